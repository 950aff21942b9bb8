"""Summary use-cases: a patient's cited summary, report drafts (optionally polished by the configured
language model), and the check that every citation resolves to what the store holds.

Citations index the text a reader of the store sees for a note: its de-identified text (``deid_text``) once
a de-identification stage has run, else its raw text (then the read is audited as a PHI read).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from carelm.core.errors import NotFoundError
from carelm.generate.base import Backend
from carelm.generate.faithfulness import FaithfulnessReport, check_summary
from carelm.generate.report_polish import PolishCheck, polish_report
from carelm.generate.reports import Report, draft_report
from carelm.generate.summary import build_summary
from carelm.generate.summary_model import DEID, RAW, PatientSummary, SourceItem, SourceNote
from carelm.generate.summary_render import render_markdown
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context
from carelm.store.models import PatientRow, RecordItemRow

_CHECK_LOCK = threading.Lock()


def find_patient(ctx: Context, patient: str) -> str:
    """The stored id of a patient named by its stored id or by the id it was ingested with."""
    with ctx.store.sessions() as session:
        if session.get(PatientRow, patient) is not None:
            return patient
        key = ctx.store.cipher.keyed_hash("patient", patient)
        found = session.scalar(select(PatientRow.id).where(PatientRow.external_key == key))
    if found is None:
        raise NotFoundError("no patient with this id; give a stored patient id (see `carelm records`) or the id "
                            "the patient was ingested with", location="patient_id")
    return found


def load_sources(ctx: Context, patient_id: str) -> tuple[list[SourceNote], list[SourceItem]]:
    """The patient's notes (cited view and layers) and structured items, in stored order."""
    repo = ctx.store.records
    listed = repo.list_records(limit=max(1, repo.count_records(patient_id)), patient_id=patient_id)
    notes: list[SourceNote] = []
    for summary in listed:
        record = repo.get_record(summary.id, include_text=False)
        for seq, note in enumerate(record.notes):
            text, view = note.deid_text, DEID
            if text is None:  # not de-identified yet: the original text, for roles that may read it (break-glass)
                purpose = require(ctx, Permission.RECORDS_READ_RAW, target_type="note", target_id=note.id)
                text, view = repo.stored_note(note.id, include_text=True).text or "", RAW
                ctx.store.audit.record(ctx.actor, "read_phi", "note", note.id, purpose=purpose or "summary")
            notes.append(SourceNote(note.id, note.record_id, note.kind, note.title, note.authored_at, text, view,
                                    note.layers, seq))
    return notes, _items(ctx, [r.id for r in listed])


def _items(ctx: Context, record_ids: list[str]) -> list[SourceItem]:
    if not record_ids:
        return []
    query = select(RecordItemRow).where(RecordItemRow.record_id.in_(record_ids)).order_by(RecordItemRow.id)
    with ctx.store.sessions() as session:
        return [SourceItem(str(r.id), r.record_id, r.kind, r.display, r.code, r.system, r.status, r.value, r.unit,
                           r.effective) for r in session.scalars(query)]


def summarize_patient(ctx: Context, patient: str) -> PatientSummary:
    """The cited summary of one patient (stored id or ingest id); NotFoundError for an unknown patient."""
    require(ctx, Permission.RECORDS_READ, target_type="patient", target_id=patient[:64])
    patient_id = find_patient(ctx, patient)
    notes, items = load_sources(ctx, patient_id)
    summary = build_summary(patient_id, notes, items)
    ctx.store.audit.record(ctx.actor, "summarize", "patient", patient_id,
                           details={"notes": len(notes), "record_items": len(items)})
    return summary


@lru_cache(maxsize=1)
def polish_check() -> PolishCheck:
    """The process's polish check (its matcher is compiled once)."""
    check = PolishCheck()
    check.pipeline.warm_up()
    return check


def configured_backend(ctx: Context) -> Backend:
    """The language model of ``CARELM_LLM_*`` (guarded when external)."""
    from carelm.service.chat import configured_backend as chosen

    return chosen(ctx)


def make_report(ctx: Context, summary: PatientSummary, kind: str, *, polish: bool = False,
                backend: Backend | None = None) -> Report:
    """The report ``kind`` drafted from ``summary``; with ``polish``, each section rewritten by ``backend``
    (default: the configured one) and kept only when the rewrite adds nothing the summary lacks."""
    report = draft_report(summary, kind)
    if polish:
        chosen = backend or configured_backend(ctx)
        with _CHECK_LOCK:  # one check at a time: the stages are shared
            polish_report(report, chosen, polish_check())
        ctx.store.audit.record(ctx.actor, "polish_report", "patient", summary.patient_id,
                               details={"backend": chosen.name, "external": bool(chosen.external)})
    return report


def summary_payload(ctx: Context, patient: str, *, report: str | None = None, polish: bool = False,
                    backend: Backend | None = None) -> dict[str, Any]:
    """What ``carelm summarize --json`` prints and ``POST /v1/summaries`` returns."""
    summary = summarize_patient(ctx, patient)
    body = summary.to_dict()
    body["text"] = render_markdown(summary)
    body["report"] = make_report(ctx, summary, report, polish=polish, backend=backend).to_dict() if report else None
    return body


class StoredCitations:
    """What citations point at, read from the store (the ``StoredText`` of the faithfulness check)."""

    def __init__(self, ctx: Context):
        self._ctx = ctx
        self._texts: dict[tuple[str, str], str | None] = {}

    def note_text(self, note_id: str, view: str) -> str | None:
        if (note_id, view) not in self._texts:
            purpose = None
            if view == RAW:
                purpose = require(self._ctx, Permission.RECORDS_READ_RAW, target_type="note", target_id=note_id)
            try:
                note = self._ctx.store.records.stored_note(note_id, include_text=view == RAW)
            except NotFoundError:
                note = None
            if note is not None and view == RAW:
                self._ctx.store.audit.record(self._ctx.actor, "read_phi", "note", note_id,
                                             purpose=purpose or "citation check")
            self._texts[(note_id, view)] = None if note is None else (note.text if view == RAW else note.deid_text)
        return self._texts[(note_id, view)]

    def field_value(self, table: str, row_id: str, field: str) -> str | None:
        if table == "notes":
            try:
                note = self._ctx.store.records.stored_note(row_id, include_text=False)
            except NotFoundError:
                return None
            value = getattr(note, field, None)
        elif table == "record_items" and row_id.isdigit():
            with self._ctx.store.sessions() as session:
                row = session.get(RecordItemRow, int(row_id))
            value = getattr(row, field, None) if row is not None else None
        else:
            return None
        return value.isoformat() if hasattr(value, "isoformat") else (None if value is None else str(value))


def check_citations(ctx: Context, summary: PatientSummary) -> FaithfulnessReport:
    """Resolve every citation of ``summary`` against the store and check it holds its item's fact."""
    require(ctx, Permission.RECORDS_READ, target_type="patient", target_id=summary.patient_id)
    return check_summary(summary, StoredCitations(ctx))
