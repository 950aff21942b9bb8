"""Shared domain types: patients, records, notes and the annotations stages add.

A ``Note`` carries text *views* (``raw`` and later ``normalized`` or ``deid``) and
annotation *layers*.  Views produced by stages keep the length of ``raw`` unless a
stage documents otherwise, so every span offset refers to the raw text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

RAW = "raw"


@dataclass(slots=True)
class Patient:
    """A person whose records are stored; identity fields are PHI and stored encrypted."""

    external_id: str
    name: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    id: str | None = None


@dataclass(slots=True)
class Span:
    """One annotation: a labelled character range [start, end) of a note's raw text."""

    start: int
    end: int
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span offsets [{self.start}, {self.end})")

    def text_of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(slots=True)
class Code:
    """A code assigned to a note or record (e.g. ICD-10-CM) with its evidence span."""

    system: str
    code: str
    display: str | None = None
    score: float | None = None
    evidence: Span | None = None
    stage: str | None = None


@dataclass(slots=True)
class RecordItem:
    """A structured entry of a record: condition, medication, allergy or observation."""

    kind: str
    display: str
    code: str | None = None
    system: str | None = None
    status: str | None = None
    value: str | None = None
    unit: str | None = None
    effective: str | None = None


@dataclass(slots=True)
class Note:
    """A clinical note as stages see it: text views plus annotation layers."""

    text: str
    id: str | None = None
    external_id: str | None = None
    patient_id: str | None = None
    kind: str = "note"
    title: str | None = None
    authored_at: datetime | None = None
    views: dict[str, str] = field(default_factory=dict)
    known_phi: dict[str, list[str]] = field(default_factory=dict)  # e.g. the patient's own name, by PHI type
    layers: dict[str, list[Span]] = field(default_factory=dict)
    codes: list[Code] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.views.setdefault(RAW, self.text)

    def available(self) -> set[str]:
        """Names of the views and layers this note carries."""
        return set(self.views) | set(self.layers)

    def view(self, name: str) -> str:
        return self.views[name]

    def layer(self, name: str) -> list[Span]:
        return self.layers.get(name, [])


@dataclass(slots=True)
class Record:
    """A unit of ingestion for one patient: a document, an encounter or a FHIR bundle."""

    patient: Patient
    notes: list[Note] = field(default_factory=list)
    items: list[RecordItem] = field(default_factory=list)
    external_id: str | None = None
    source: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrievable piece of text: a literature abstract or a chunk of a note's de-identified text.

    ``start``/``end`` locate ``text`` in the stored document (a note's de-identified text, or a literature
    document's title + abstract); ``metadata`` carries filters (patient_id, note_id, record_id, kind,
    section, authored_at) for records, and the title for literature.
    """

    id: str
    document_id: str
    text: str
    scope: str  # "records" or "literature"
    start: int = 0
    end: int = 0
    score: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a statement comes from: a document, a character span in it, and the quoted text of that span."""

    document_id: str
    start: int
    end: int
    quote: str
    scope: str = "records"


@dataclass(slots=True)
class Answer:
    """A grounded answer: the text, the citations it rests on, a confidence in [0, 1], and whether it abstained."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    confidence: float = 0.0
    abstained: bool = False
    label: str | None = None  # yes/no/maybe for closed questions
