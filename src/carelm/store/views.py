"""Read models the store returns to the service layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from carelm.core.types import RecordItem, Span


@dataclass(slots=True)
class StoredNote:
    id: str
    record_id: str
    patient_id: str
    kind: str
    title: str | None
    authored_at: datetime | None
    status: str
    char_count: int
    text: str | None = None
    deid_text: str | None = None
    layers: dict[str, list[Span]] = field(default_factory=dict)


@dataclass(slots=True)
class StoredRecord:
    id: str
    patient_id: str
    source: str | None
    created_at: datetime
    note_count: int = 0
    notes: list[StoredNote] = field(default_factory=list)
    items: list[RecordItem] = field(default_factory=list)


@dataclass(slots=True)
class SaveResult:
    """What saving one record did: ids, and how many notes were new or already stored."""

    record_id: str
    patient_id: str
    notes_added: int
    notes_skipped: int
    record_created: bool


@dataclass(frozen=True, slots=True)
class DeidText:
    """A processed note's de-identified text and where it belongs (for training on the store)."""

    note_id: str
    record_id: str
    patient_id: str
    kind: str
    text: str
