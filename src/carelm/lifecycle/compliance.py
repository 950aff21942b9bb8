"""The compliance report: data-quality checks run over the store, reported as counts and ids.

- ``completeness``: notes of a kind with rules that lack a required section (the stored ``sections`` layer).
- ``consistency``: drugs a patient is allergic to and also takes, from drug mentions in allergy and
  medication sections (not negated) and from structured allergy and medication items.
- ``residual_phi``: the de-identification detector run again over each note's de-identified text,
  with the patient's known identifiers; hits that are not the surrogates or tags the de-identification
  put there are reported by note id, type and offsets.
- ``duplicates``: exact and near-duplicate de-identified texts (``compliance_duplicates``).

Reading the patients' identities for the residual scan decrypts PHI; the caller audits the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carelm.core.errors import InputError
from carelm.lifecycle.compliance_checks import (
    DrugFact,
    NoteSections,
    check_completeness,
    check_consistency,
    residual_spans,
    summarise_residual,
)
from carelm.lifecycle.compliance_duplicates import find_duplicates
from carelm.lifecycle.compliance_rules import ComplianceRules
from carelm.store.models import (
    AnnotationRow,
    ErasureCertificateRow,
    NoteRow,
    PatientRow,
    ProcessingRunRow,
    RecordItemRow,
    RecordRow,
)

if TYPE_CHECKING:
    from carelm.store.store import Store

CHECKS = ("completeness", "consistency", "residual_phi", "duplicates")
CHUNK = 200
SECTIONS = "sections"
MIN_KNOWN_ID = 5  # as in de-identification: shorter record numbers would flag ordinary numbers
Progress = Callable[[int], None]


def check_names(checks: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(checks or CHECKS))
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown:
        raise InputError(f"unknown check(s) {unknown}; accepted: {', '.join(CHECKS)}", location="checks")
    return chosen


def run_checks(store: Store, rules: ComplianceRules, checks: list[str], on_progress: Progress | None = None
               ) -> dict[str, Any]:
    """The report sections for ``checks`` (validated names), plus store totals."""
    report: dict[str, Any] = {}
    with store.sessions() as session:
        report["totals"] = {"notes": session.scalar(select(func.count()).select_from(NoteRow)) or 0,
                            "erasure_certificates": session.scalar(
                                select(func.count()).select_from(ErasureCertificateRow)) or 0}
        if "completeness" in checks:
            report["completeness"] = check_completeness(_note_sections(session, rules), rules)
        if "consistency" in checks:
            report["consistency"] = check_consistency(_drug_facts(session, rules))
        if "residual_phi" in checks:
            report["residual_phi"] = _residual_phi(session, store, on_progress)
    if "duplicates" in checks:
        texts = ((item.note_id, item.text) for item in store.records.iter_deid_texts())
        report["duplicates"] = find_duplicates(texts, shingle_words=rules.shingle_words,
                                               threshold=rules.near_threshold, min_words=rules.min_words)
    return report


# --- completeness --------------------------------------------------------------------------------
def _note_sections(session: Session, rules: ComplianceRules) -> Iterator[NoteSections]:
    """Each note of a kind with rules and its sections; None when no section detection ran over it."""
    query = select(NoteRow.id, NoteRow.kind, NoteRow.run_id).where(NoteRow.kind.in_(sorted(rules.required)))
    notes = session.execute(query.order_by(NoteRow.id)).all()
    detected = _runs_detecting_sections(session)
    for start in range(0, len(notes), CHUNK):
        chunk = notes[start:start + CHUNK]
        found: dict[str, set[str]] = defaultdict(set)
        spans = select(AnnotationRow.note_id, AnnotationRow.label).where(
            AnnotationRow.layer == SECTIONS, AnnotationRow.note_id.in_([n.id for n in chunk]))
        for note_id, label in session.execute(spans):
            found[note_id].add(label)
        for note_id, kind, run_id in chunk:
            checked = run_id in detected or note_id in found
            yield NoteSections(note_id, kind, frozenset(found[note_id]) if checked else None)


def _runs_detecting_sections(session: Session) -> set[str]:
    """Processing runs whose pipeline had a stage writing the sections layer (so no span means no section)."""
    from carelm.core.registry import registered_stages

    writers = {name for name, cls in registered_stages().items() if SECTIONS in cls.writes}
    runs = set()
    for run_id, pipeline in session.execute(select(ProcessingRunRow.id, ProcessingRunRow.pipeline)):
        stages = (pipeline or {}).get("stages", []) if isinstance(pipeline, dict) else []
        if any(isinstance(stage, dict) and stage.get("stage") in writers for stage in stages):
            runs.add(run_id)
    return runs


# --- consistency ---------------------------------------------------------------------------------
def _drug_facts(session: Session, rules: ComplianceRules) -> list[DrugFact]:
    facts = []
    query = (select(AnnotationRow.note_id, AnnotationRow.attributes, NoteRow.patient_id)
             .join(NoteRow, NoteRow.id == AnnotationRow.note_id)
             .where(AnnotationRow.layer == "mentions", AnnotationRow.label == "DRUG"))
    for note_id, attributes, patient_id in session.execute(query):
        attributes = attributes or {}
        section = attributes.get("section")
        if attributes.get("negated") or attributes.get("hypothetical") or attributes.get("family"):
            continue
        role = ("allergy" if section in rules.allergy_sections else
                "medication" if section in rules.medication_sections else None)
        term = str(attributes.get("term") or "")
        key = attributes.get("concept") or (f"name:{term.lower()}" if term else None)
        if role and key:
            facts.append(DrugFact(patient_id, role, key, term, "note", note_id))
    facts += _item_facts(session, rules)
    return facts


def _item_facts(session: Session, rules: ComplianceRules) -> list[DrugFact]:
    kinds = sorted(rules.allergy_item_kinds | rules.medication_item_kinds)
    query = (select(RecordItemRow.id, RecordItemRow.kind, RecordItemRow.display, RecordItemRow.status,
                    RecordRow.patient_id)
             .join(RecordRow, RecordRow.id == RecordItemRow.record_id)
             .where(func.lower(RecordItemRow.kind).in_(kinds)))
    rows = [row for row in session.execute(query) if (row.status or "").lower() not in rules.inactive_statuses]
    if not rows:
        return []
    matcher = _drug_matcher()
    facts = []
    for item_id, kind, display, _status, patient_id in rows:
        role = "allergy" if kind.lower() in rules.allergy_item_kinds else "medication"
        drugs = [span for span in matcher.find(display) if span.label == "DRUG"]
        if drugs:
            facts += [DrugFact(patient_id, role, s.attributes["concept"], s.attributes["term"], "record_item",
                               str(item_id)) for s in drugs]
        else:
            name = " ".join(display.lower().split())
            facts.append(DrugFact(patient_id, role, f"name:{name}", name, "record_item", str(item_id)))
    return facts


def _drug_matcher():
    from carelm.core.registry import create_stage

    matcher = create_stage("carelm.terms.v1", types=["DRUG"])
    matcher.warm_up()
    return matcher


# --- residual PHI --------------------------------------------------------------------------------
def _residual_phi(session: Session, store: Store, on_progress: Progress | None) -> dict[str, Any]:
    from carelm.deid.base import DeidDoc
    from carelm.deid.engine import PhiEngine

    engine = PhiEngine()
    engine.load()
    ids = list(session.scalars(select(NoteRow.id).where(NoteRow.deid_text.is_not(None)).order_by(NoteRow.id)))
    unscanned = session.scalar(select(func.count()).select_from(NoteRow).where(NoteRow.deid_text.is_(None))) or 0
    per_note = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.execute(select(NoteRow.id, NoteRow.patient_id, NoteRow.kind, NoteRow.deid_text)
                               .where(NoteRow.id.in_(chunk))).all()
        replaced = _replaced_ranges(session, chunk)
        known = _known_identifiers(session, store, {row.patient_id for row in rows})
        for note_id, patient_id, kind, text in rows:
            found = engine.find(DeidDoc(text, kind=kind, known=known.get(patient_id, {})))
            per_note[note_id] = residual_spans(found, replaced.get(note_id, []))
        if on_progress:
            on_progress(len(chunk))
    return summarise_residual(per_note, len(ids), unscanned)


def _replaced_ranges(session: Session, note_ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    query = select(AnnotationRow.note_id, AnnotationRow.attributes).where(
        AnnotationRow.layer == "phi", AnnotationRow.note_id.in_(note_ids))
    for note_id, attributes in session.execute(query):
        start, end = (attributes or {}).get("new_start"), (attributes or {}).get("new_end")
        if isinstance(start, int) and isinstance(end, int):
            ranges[note_id].append((start, end))
    return ranges


def _known_identifiers(session: Session, store: Store, patient_ids: set[str]) -> dict[str, dict[str, list[str]]]:
    """The names and record number each patient is stored under, for the detector (decrypted, never output)."""
    known = {}
    for row in session.scalars(select(PatientRow).where(PatientRow.id.in_(sorted(patient_ids)))):
        identity = json.loads(store.cipher.decrypt(row.identity_enc, f"patient:{row.id}"))
        names = (identity.get("name") or "").replace(",", " ").split()
        number = identity.get("external_id") or ""
        known[row.id] = {"NAME": [n for n in names if len(n.strip(".")) > 1],
                         "MRN": [number] if len(number) >= MIN_KNOWN_ID else []}
    return known
