"""API response models (the public shape of records, notes and annotations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from carelm.store.views import StoredNote, StoredRecord


class Health(BaseModel):
    status: str
    version: str
    database: str
    schema_revision: str | None


class SpanOut(BaseModel):
    start: int
    end: int
    label: str
    attributes: dict[str, Any]
    stage: str | None


class NoteOut(BaseModel):
    id: str
    kind: str
    title: str | None
    authored_at: datetime | None
    status: str
    char_count: int
    text: str | None
    deid_text: str | None
    layers: dict[str, list[SpanOut]]

    @classmethod
    def of(cls, note: StoredNote) -> NoteOut:
        layers = {name: [SpanOut(start=s.start, end=s.end, label=s.label, attributes=s.attributes, stage=s.stage)
                         for s in spans] for name, spans in note.layers.items()}
        return cls(id=note.id, kind=note.kind, title=note.title, authored_at=note.authored_at, status=note.status,
                   char_count=note.char_count, text=note.text, deid_text=note.deid_text, layers=layers)


class ItemOut(BaseModel):
    kind: str
    display: str
    code: str | None
    system: str | None
    status: str | None
    value: str | None
    unit: str | None
    effective: str | None


class RecordSummary(BaseModel):
    id: str
    patient_id: str
    source: str | None
    created_at: datetime
    note_count: int


class RecordDetail(RecordSummary):
    notes: list[NoteOut]
    items: list[ItemOut]

    @classmethod
    def of(cls, record: StoredRecord) -> RecordDetail:
        return cls(id=record.id, patient_id=record.patient_id, source=record.source, created_at=record.created_at,
                   note_count=record.note_count, notes=[NoteOut.of(n) for n in record.notes],
                   items=[ItemOut(**vars_of(i)) for i in record.items])


class RecordPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[RecordDetail] | list[RecordSummary]


class IngestIssueOut(BaseModel):
    location: str
    message: str


class IngestResult(BaseModel):
    records_added: int
    notes_added: int
    notes_skipped: int
    record_ids: list[str]
    issues: list[IngestIssueOut]


class DeidRequest(BaseModel):
    model_config = {"extra": "forbid"}

    id: str | int | None = None
    text: str
    patient: str | None = None
    mode: Literal["surrogate", "redact", "mask"] = "surrogate"


class PhiSpanOut(BaseModel):
    start: int
    end: int
    type: str
    score: float | None


class DeidResponse(BaseModel):
    id: str | int | None
    text: str
    spans: list[PhiSpanOut]


class ReidentifyRequest(BaseModel):
    model_config = {"extra": "forbid"}

    purpose: str


class ReidentifyResponse(BaseModel):
    id: str
    text: str
    restored: int
    unresolved: int


class ExtractTarget(BaseModel):
    """A span of the request text to judge: ``[start, end)``."""

    model_config = {"extra": "forbid"}

    start: int
    end: int


class ExtractRequest(BaseModel):
    """One text, optionally with the exact spans to report."""

    model_config = {"extra": "forbid"}

    id: str | int | None = None
    text: str
    targets: list[ExtractTarget] | None = None


class ExtractCode(BaseModel):
    """A candidate ICD-10-CM code of a mention."""

    code: str
    display: str | None
    score: float | None


class ExtractMention(BaseModel):
    """A mention with its assertion flags, section and candidate codes; offsets into the request text."""

    start: int
    end: int
    text: str
    type: str | None
    negated: bool
    uncertain: bool
    historical: bool
    hypothetical: bool
    family: bool
    section: str | None
    codes: list[ExtractCode]


class ExtractResponse(BaseModel):
    """The mentions of one text, in text order (or in the order of the request's targets)."""

    id: str | int | None
    mentions: list[ExtractMention]


class PredictRequest(BaseModel):
    """Texts for a registered classifier or tagger (at most 256 per request)."""

    model_config = {"extra": "forbid"}

    texts: list[str] = Field(min_length=1, max_length=256)
    version: int | None = Field(default=None, ge=1, description="Registry version (default: the latest).")
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"


class PredictedMention(BaseModel):
    """An entity found by a tagger; offsets into the request text (end exclusive)."""

    start: int
    end: int
    text: str
    type: str
    score: float


class Prediction(BaseModel):
    """A classifier's label(s) and per-label scores, or a tagger's mentions."""

    label: str | None = None
    labels: list[str] | None = None
    scores: dict[str, float] | None = None
    mentions: list[PredictedMention] | None = None


class PredictResponse(BaseModel):
    """One prediction per request text, in order."""

    model: str
    version: int | None
    task: str
    predictions: list[Prediction]


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
