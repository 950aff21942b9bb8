"""The shapes of a patient summary: what it is built from, its items, their citations, and its JSON form.

A summary is built from ``SourceNote``s (one text view of each stored note with its annotation layers) and
``SourceItem``s (structured record items).  Every ``SummaryItem`` carries citations of two kinds:

* ``SpanCitation``: ``note_id``, ``start``, ``end`` index into the note's text view named by ``view``:
  ``"deid"`` (the stored de-identified text, ``deid_text``) when the note has one, else ``"raw"`` (the
  decrypted original).  ``quote`` is exactly ``text[start:end]`` of that view.
* ``FieldCitation``: a stored row (``table`` ``record_items`` or ``notes``, its ``row_id``), one of its
  fields, and the value the summary read from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carelm.core.types import Citation, Span
from carelm.extract.terms import fold, singulars, tokens_of

STATUSES = ("present", "uncertain", "historical", "negated")
CATEGORIES = ("problems", "findings", "medications", "allergies", "procedures", "family_history")
DEID, RAW = "deid", "raw"


@dataclass(slots=True)
class SourceNote:
    """One stored note as the summary sees it: the cited text view and the layers (raw offsets)."""

    id: str
    record_id: str
    kind: str
    title: str | None
    authored_at: datetime | None
    text: str
    view: str  # DEID or RAW: which stored text ``text`` is
    layers: dict[str, list[Span]] = field(default_factory=dict)
    seq: int = 0


@dataclass(slots=True)
class SourceItem:
    """One stored structured record item (a FHIR condition, medication, allergy or observation)."""

    id: str
    record_id: str
    kind: str
    display: str
    code: str | None = None
    system: str | None = None
    status: str | None = None
    value: str | None = None
    unit: str | None = None
    effective: str | None = None


@dataclass(frozen=True, slots=True)
class SpanCitation:
    """A character range ``[start, end)`` of a stored note's ``view`` text, and that text."""

    note_id: str
    start: int
    end: int
    quote: str
    view: str = DEID
    status: str | None = None  # the assertion status of the mention this span supports
    section: str | None = None

    def to_citation(self) -> Citation:
        """The shared ``Citation`` type (``document_id`` is the note id)."""
        return Citation(self.note_id, self.start, self.end, self.quote, "records")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "span", "document_id": self.note_id, "start": self.start, "end": self.end,
                "quote": self.quote, "view": self.view, "status": self.status, "section": self.section}


@dataclass(frozen=True, slots=True)
class FieldCitation:
    """A field of a stored row and the value read from it."""

    table: str  # "record_items" or "notes"
    row_id: str
    field: str
    value: str
    record_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "field", "table": self.table, "id": self.row_id, "field": self.field,
                "value": self.value, "record_id": self.record_id}


AnyCitation = SpanCitation | FieldCitation


@dataclass(slots=True)
class SummaryItem:
    """One fact of the summary (a problem, finding, medication, ...) with everything that supports it."""

    id: str
    category: str
    term: str
    status: str
    citations: list[AnyCitation] = field(default_factory=list)
    codes: list[dict[str, Any]] = field(default_factory=list)  # {system, code, display, source}
    concepts: list[str] = field(default_factory=list)  # terminology concepts of the matched mentions
    aliases: list[str] = field(default_factory=list)  # other names the summary claims the evidence uses
    value: str | None = None
    unit: str | None = None
    first_date: str | None = None
    last_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "term": self.term, "status": self.status,
                "codes": self.codes, "value": self.value, "unit": self.unit, "first_date": self.first_date,
                "last_date": self.last_date, "concepts": self.concepts, "aliases": self.aliases,
                "citations": [c.to_dict() for c in self.citations]}


@dataclass(slots=True)
class TimelineEntry:
    """A dated event: a note, or a record item with an effective date; ``item_ids`` first documented there."""

    id: str
    date: str | None
    kind: str
    label: str
    citations: list[AnyCitation] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "date": self.date, "kind": self.kind, "label": self.label,
                "item_ids": self.item_ids, "citations": [c.to_dict() for c in self.citations]}


@dataclass(slots=True)
class PatientSummary:
    """A cited summary of one patient's stored notes and record items."""

    patient_id: str
    notes: int = 0
    record_items: int = 0
    problems: list[SummaryItem] = field(default_factory=list)
    findings: list[SummaryItem] = field(default_factory=list)
    medications: list[SummaryItem] = field(default_factory=list)
    allergies: list[SummaryItem] = field(default_factory=list)
    procedures: list[SummaryItem] = field(default_factory=list)
    family_history: list[SummaryItem] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)

    def items(self) -> Iterator[SummaryItem]:
        """Every item of every category, in category order."""
        for category in CATEGORIES:
            yield from getattr(self, category)

    def item(self, item_id: str) -> SummaryItem | None:
        return next((item for item in self.items() if item.id == item_id), None)

    def pertinent_negatives(self) -> list[SummaryItem]:
        """Denied problems and findings."""
        return [item for item in (*self.problems, *self.findings) if item.status == "negated"]

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"patient_id": self.patient_id, "notes": self.notes,
                                "record_items": self.record_items}
        for category in CATEGORIES:
            body[category] = [item.to_dict() for item in getattr(self, category)]
        body["pertinent_negatives"] = [item.id for item in self.pertinent_negatives()]
        body["timeline"] = [entry.to_dict() for entry in self.timeline]
        return body


@dataclass(slots=True)
class Occurrence:
    """One piece of evidence for an item, before items are merged."""

    category: str
    keys: tuple[str, ...]
    term: str
    status: str
    citations: list[AnyCitation]
    order: int  # position of its note or record item in time order
    date: str | None
    source: str  # the note id or "item:<id>" it came from
    concept: str | None = None
    codes: list[dict[str, Any]] = field(default_factory=list)
    value: str | None = None
    unit: str | None = None
    aliases: list[str] = field(default_factory=list)
    curated: bool = False  # a structured record item: its display names the item


def term_key(text: str) -> str:
    """A normalised term: word tokens folded to lower case and singular, joined by single spaces."""
    words = []
    for token in tokens_of(text):
        if token[0].isalnum():
            folded = fold(token)
            words.append(next(iter(singulars(folded)), folded))
    return " ".join(words)


def date_of(note: SourceNote) -> str | None:
    return note.authored_at.date().isoformat() if isinstance(note.authored_at, datetime) else None
