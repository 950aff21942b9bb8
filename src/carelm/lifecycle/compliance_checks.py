"""Data-quality checks over facts read from the store: completeness, consistency and residual PHI.

The functions take plain facts (ids, kinds, section names, drug keys, span offsets) and return counts
and ids; they never see or return note text, so a report can be shown to anyone allowed to see ids.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from carelm.deid.base import PhiSpan
from carelm.lifecycle.compliance_rules import ComplianceRules


@dataclass(frozen=True, slots=True)
class NoteSections:
    """A note's kind and the sections found in it (None: not processed, so not checked)."""

    note_id: str
    kind: str
    sections: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class DrugFact:
    """One statement that a patient is allergic to, or currently takes, a drug (``key``: concept or name)."""

    patient_id: str
    role: str  # "allergy" or "medication"
    key: str
    term: str
    source: str  # "note" (a mention) or "record_item"
    source_id: str


def check_completeness(notes: Iterable[NoteSections], rules: ComplianceRules) -> dict[str, Any]:
    """Notes of the kinds with rules that lack a required section (alternatives joined by ``|``)."""
    by_kind: dict[str, dict[str, Any]] = {}
    flagged = []
    unchecked = 0
    for note in notes:
        groups = rules.required.get(note.kind)
        if groups is None:
            continue
        if note.sections is None:
            unchecked += 1
            continue
        stats = by_kind.setdefault(note.kind, {"checked": 0, "incomplete": 0, "missing": Counter()})
        stats["checked"] += 1
        missing = ["|".join(group) for group in groups if not note.sections.intersection(group)]
        if missing:
            stats["incomplete"] += 1
            stats["missing"].update(missing)
            flagged.append({"note_id": note.note_id, "kind": note.kind, "missing": missing})
    for stats in by_kind.values():
        stats["missing"] = dict(sorted(stats["missing"].items()))
    return {"rules": rules.source, "checked": sum(s["checked"] for s in by_kind.values()),
            "incomplete": len(flagged), "unchecked": unchecked, "by_kind": dict(sorted(by_kind.items())),
            "notes": sorted(flagged, key=lambda item: item["note_id"])}


def check_consistency(facts: Iterable[DrugFact]) -> dict[str, Any]:
    """Drugs a patient is recorded as allergic to and also as currently taking, with where each is stated."""
    by_patient: dict[str, dict[str, dict[str, list[DrugFact]]]] = defaultdict(lambda: defaultdict(
        lambda: {"allergy": [], "medication": []}))
    for fact in facts:
        by_patient[fact.patient_id][fact.key][fact.role].append(fact)
    conflicts = []
    for patient_id in sorted(by_patient):
        for key, roles in sorted(by_patient[patient_id].items()):
            if roles["allergy"] and roles["medication"]:
                conflicts.append({
                    "patient_id": patient_id, "drug": key, "term": roles["allergy"][0].term,
                    "allergy": _sources(roles["allergy"]), "medication": _sources(roles["medication"]),
                })
    return {"conflicts": len(conflicts), "patients": len({c["patient_id"] for c in conflicts}), "items": conflicts}


def _sources(facts: list[DrugFact]) -> list[dict[str, str]]:
    seen = sorted({(fact.source, fact.source_id) for fact in facts})
    return [{"source": source, "id": source_id} for source, source_id in seen]


def residual_spans(found: Iterable[PhiSpan], replaced: Iterable[tuple[int, int]]) -> list[PhiSpan]:
    """Detector hits in de-identified text that overlap no replacement the de-identification made.

    Surrogates look like PHI to the detector; they sit exactly where the replacements landed
    (``new_start``/``new_end`` of the ``phi`` layer), so only hits elsewhere are residual.
    """
    ranges = sorted(replaced)
    left = []
    for span in found:
        if not any(start < span.end and span.start < end for start, end in ranges):
            left.append(span)
    return left


def summarise_residual(per_note: dict[str, list[PhiSpan]], scanned: int, unscanned: int) -> dict[str, Any]:
    """Counts by type and, per flagged note, its id with the types and offsets (never the text)."""
    by_type: Counter[str] = Counter()
    items = []
    for note_id in sorted(per_note):
        spans = per_note[note_id]
        if not spans:
            continue
        types = Counter(span.type for span in spans)
        by_type.update(types)
        items.append({"note_id": note_id, "types": dict(sorted(types.items())),
                      "spans": [{"start": s.start, "end": s.end, "type": s.type} for s in spans]})
    return {"scanned": scanned, "unscanned": unscanned, "flagged": len(items), "spans": sum(by_type.values()),
            "by_type": dict(sorted(by_type.items())), "notes": items}
