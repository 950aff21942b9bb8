"""A cited patient summary from stored notes (their mentions, assertion flags, sections, sentences and codes)
and structured record items.

Each mention becomes an *occurrence*: a category (by mention type; ``allergies`` for a drug inside an
allergies section; ``family_history`` when it is about a relative), a status (``negated`` > ``uncertain`` >
``historical`` > ``present``, from the assertion flags; a mention that is only hypothetical is left out) and a
citation of its sentence.  Mentions inside a section header or overlapping a PHI span are not facts about the
patient and are skipped.  Occurrences of one category sharing a terminology concept, an ICD-10-CM code or a
normalised term are one item, which keeps every citation.  An item's status is the one of its last mention in
the most recent source that mentions it, so "suspected on admission; no evidence of it on work-up" ends
negated.  An abbreviation is named by its expansion, any other mention by its own words.  Allergy lines and
vital-sign and laboratory sections are read whole (:mod:`carelm.generate.summary_sections`); structured
record items are occurrences too, cited by their stored fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from carelm.core.types import Span
from carelm.extract.terms import is_case_sensitive
from carelm.generate.summary_model import (
    AnyCitation,
    FieldCitation,
    Occurrence,
    PatientSummary,
    SourceItem,
    SourceNote,
    SpanCitation,
    SummaryItem,
    date_of,
    term_key,
)
from carelm.generate.summary_sections import section_occurrences
from carelm.generate.summary_spans import ViewMap, mention_citation, overlaps_any
from carelm.generate.summary_timeline import build_timeline, time_order

LABEL_CATEGORY = {"PROBLEM": "problems", "SYMPTOM": "findings", "TEST": "findings", "DRUG": "medications",
                  "PROCEDURE": "procedures"}
ITEM_CATEGORY = {"condition": "problems", "medication": "medications", "allergy": "allergies",
                 "observation": "findings"}
ITEM_PREFIX = {"problems": "problem", "findings": "finding", "medications": "medication", "allergies": "allergy",
               "procedures": "procedure", "family_history": "family"}
PRECEDENCE = {"present": 0, "historical": 1, "uncertain": 2, "negated": 3}
_HISTORICAL_STATUSES = {"inactive", "remission", "resolved", "completed", "stopped", "not-taken", "entered-in-error"}


def mention_status(attributes: dict[str, Any]) -> str | None:
    """The summary status of a mention from its assertion flags; None for a purely hypothetical one."""
    for flag, status in (("negated", "negated"), ("uncertain", "uncertain"), ("historical", "historical")):
        if attributes.get(flag):
            return status
    return None if attributes.get("hypothetical") else "present"


def note_occurrences(note: SourceNote, order: int) -> list[Occurrence]:
    """The occurrences of one note: its usable mentions, allergy denials and measurement sentences."""
    view_map, found = ViewMap(note), []
    phi = sorted(note.layers.get("phi", []), key=lambda s: s.start)
    sections = note.layers.get("sections", [])
    best_codes = {(s.start, s.end): s for s in note.layers.get("codes", []) if s.attributes.get("rank") == 1}
    for mention in note.layers.get("mentions", []):
        status = mention_status(mention.attributes)
        category = LABEL_CATEGORY.get(mention.label)
        if status is None or category is None or overlaps_any(mention.start, mention.end, phi):
            continue
        if _in_header(mention, sections):
            continue
        section = mention.attributes.get("section")
        if mention.attributes.get("family"):
            category = "family_history"
        elif section == "allergies":
            if mention.label != "DRUG":
                continue  # a reaction ("rash") is not an allergen; allergen lines are read whole below
            category = "allergies"
        found.append(_mention_occurrence(note, view_map, mention, category, status, best_codes, order))
    found += section_occurrences(note, view_map, order)
    return found


def _in_header(mention: Span, sections: Iterable[Span]) -> bool:
    return any(s.start <= mention.start < int(s.attributes.get("header_end", s.start)) for s in sections)


def _mention_occurrence(note: SourceNote, view_map: ViewMap, mention: Span, category: str, status: str,
                        best_codes: dict[tuple[int, int], Span], order: int) -> Occurrence:
    attributes = mention.attributes
    cited = mention_citation(note, view_map, mention.start, mention.end, status=status,
                             section=attributes.get("section"))
    low, high = view_map.span(mention.start, mention.end)
    surface = note.text[low:high]
    canonical = str(attributes.get("term") or surface)
    # An abbreviation is shown expanded; otherwise the words of the note (a canonical name may be more specific)
    term = canonical.lower() if is_case_sensitive(surface) else " ".join(surface.lower().split())
    concept = attributes.get("concept")
    keys = [f"term:{term_key(canonical)}"] + ([f"concept:{concept}"] if concept else [])
    codes = []
    coded = best_codes.get((mention.start, mention.end))
    if coded is not None:
        codes.append({"system": "ICD-10-CM", "code": coded.label, "display": coded.attributes.get("display"),
                      "source": "coder"})
        keys.append(f"code:{coded.label}")
    return Occurrence(category, tuple(keys), term, status, [cited], order, date_of(note), note.id,
                      concept=concept, codes=codes)


def item_occurrence(item: SourceItem, order: int) -> Occurrence | None:
    """The occurrence of one structured record item (None for a kind the summary does not show)."""
    category = ITEM_CATEGORY.get(item.kind)
    if category is None:
        return None
    status = "historical" if (item.status or "").lower() in _HISTORICAL_STATUSES else "present"
    citations: list[AnyCitation] = [FieldCitation("record_items", item.id, "display", item.display, item.record_id)]
    keys = [f"term:{term_key(item.display)}"]
    codes = []
    if item.code:
        icd = "icd-10" in (item.system or "").lower()
        codes.append({"system": "ICD-10-CM" if icd else item.system, "code": item.code, "display": item.display,
                      "source": "record"})
        if icd:
            keys.append(f"code:{item.code}")
    if item.value is not None:
        citations.append(FieldCitation("record_items", item.id, "value", item.value, item.record_id))
    date = item.effective[:10] if item.effective else None
    return Occurrence(category, tuple(keys), item.display, status, citations, order, date, f"item:{item.id}",
                      codes=codes, value=item.value, unit=item.unit, curated=True)


def merge(occurrences: list[Occurrence]) -> dict[str, list[list[Occurrence]]]:
    """Occurrences grouped into items per category: those sharing any key are one item."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for occ in occurrences:
        first = root(f"{occ.category}|{occ.keys[0]}")
        for key in occ.keys[1:]:
            parent[root(f"{occ.category}|{key}")] = first
    groups: dict[str, list[Occurrence]] = {}
    for occ in occurrences:
        groups.setdefault(root(f"{occ.category}|{occ.keys[0]}"), []).append(occ)
    by_category: dict[str, list[list[Occurrence]]] = {}
    for group in groups.values():
        by_category.setdefault(group[0].category, []).append(group)
    return by_category


def build_item(item_id: str, group: list[Occurrence]) -> SummaryItem:
    """One summary item from its occurrences (already in time order)."""
    latest = group[-1].order
    in_latest = [occ for occ in group if occ.order == latest]
    status = group[-1].status  # the last word of the most recent source ("suspected ... no evidence of")
    curated = [occ for occ in group if occ.curated]
    names = [occ.term for occ in (curated or group)]
    term = max(names, key=names.count)
    citations, seen = [], set()
    for occ in group:
        for cited in occ.citations:
            key = (cited.note_id, cited.start, cited.end) if isinstance(cited, SpanCitation) else cited
            if key not in seen:
                seen.add(key)
                citations.append(cited)
    codes: dict[str, dict[str, Any]] = {}
    for code in sorted((c for occ in group for c in occ.codes), key=lambda c: c["source"] != "coder"):
        codes.setdefault(code["code"], code)
    values = [occ.value for occ in in_latest if occ.value]
    dates = sorted(occ.date for occ in group if occ.date)
    aliases = sorted({a for occ in group for a in occ.aliases})
    return SummaryItem(item_id, group[0].category, term, status, citations, list(codes.values()),
                       sorted({occ.concept for occ in group if occ.concept}), aliases,
                       "; ".join(dict.fromkeys(values)) or None, next((o.unit for o in in_latest if o.unit), None),
                       dates[0] if dates else None, dates[-1] if dates else None)


def build_summary(patient_id: str, notes: list[SourceNote], items: list[SourceItem]) -> PatientSummary:
    """The cited summary of one patient's notes and record items (see the module docstring)."""
    sources = time_order(notes, items)
    occurrences: list[Occurrence] = []
    for order, source in enumerate(sources):
        if isinstance(source, SourceNote):
            occurrences += note_occurrences(source, order)
        else:
            occurrence = item_occurrence(source, order)
            occurrences += [occurrence] if occurrence else []
    summary = PatientSummary(patient_id, notes=len(notes), record_items=len(items))
    first_source: dict[str, str] = {}
    for category, groups in merge(occurrences).items():
        built = [(build_item("", group), group) for group in groups]
        built.sort(key=lambda pair: (PRECEDENCE[pair[0].status], min(o.order for o in pair[1])))
        for number, (item, group) in enumerate(built, start=1):
            item.id = f"{ITEM_PREFIX[category]}-{number}"
            first_source[item.id] = min(group, key=lambda o: o.order).source
        setattr(summary, category, [item for item, _ in built])
    summary.timeline = build_timeline(sources, first_source)
    return summary
