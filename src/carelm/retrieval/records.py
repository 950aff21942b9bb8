"""Record passages: a processed note's de-identified text cut into sections and runs of sentences.

Annotation layers (``sections``, ``sentences``) hold offsets into the note's raw text, while passages must
point into its de-identified text, whose length differs wherever a PHI span was replaced.  The ``phi``
layer says where each replacement landed (``new_start``/``new_end``), which maps any raw offset to a
de-identified one; an offset inside a replaced span moves to the replacement's start (for a start) or end
(for an end), so a passage never cuts a surrogate in half.  Only de-identified text is ever read here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from carelm.core.types import Span
from carelm.retrieval.chunking import sentence_bounds, sentence_runs, trim

MAX_WORDS = 120


@dataclass(slots=True)
class RecordNote:
    """What indexing needs of one processed note (no raw text)."""

    note_id: str
    record_id: str
    patient_id: str
    kind: str
    deid_text: str
    authored_at: str | None = None
    sections: list[Span] = field(default_factory=list)
    sentences: list[Span] = field(default_factory=list)
    phi: list[Span] = field(default_factory=list)

    @classmethod
    def of(cls, stored: Any) -> RecordNote:
        """From a stored note read without raw text (``carelm.store.views.StoredNote``)."""
        layers = stored.layers
        return cls(note_id=stored.id, record_id=stored.record_id, patient_id=stored.patient_id, kind=stored.kind,
                   deid_text=stored.deid_text or "",
                   authored_at=stored.authored_at.isoformat() if stored.authored_at else None,
                   sections=layers.get("sections", []), sentences=layers.get("sentences", []),
                   phi=layers.get("phi", []))


class OffsetMap:
    """Maps raw-text offsets to de-identified-text offsets through the ``phi`` replacements."""

    def __init__(self, phi: Sequence[Span], deid_length: int):
        usable = [s for s in phi if "new_start" in s.attributes and "new_end" in s.attributes]
        self.spans = sorted(usable, key=lambda s: s.start)
        self.starts = [s.start for s in self.spans]
        self.length = deid_length

    def __call__(self, offset: int, side: str = "start") -> int:
        i = bisect_right(self.starts, offset) - 1
        if i < 0:
            return min(offset, self.length)
        span = self.spans[i]
        new_start, new_end = int(span.attributes["new_start"]), int(span.attributes["new_end"])
        if offset == span.start:
            mapped = new_start
        elif offset < span.end:
            mapped = new_start if side == "start" else new_end
        else:
            mapped = new_end + (offset - span.end)
        return max(0, min(mapped, self.length))


def note_passages(note: RecordNote, max_words: int = MAX_WORDS) -> list[dict]:
    """Passage rows of one note: runs of sentences within one section, offsets into ``deid_text``."""
    text = note.deid_text
    to_deid = OffsetMap(note.phi, len(text))
    sections = sorted(((to_deid(s.start), to_deid(s.end, "end"), s.label) for s in note.sections),
                      key=lambda item: item[0])
    bounds = _sentences(note, to_deid)
    rows = []
    for section, section_bounds in _by_section(bounds, sections):
        for start, end in sentence_runs(text, section_bounds, max_words):
            rows.append(_row(note, len(rows), start, end, section))
    return rows


def _sentences(note: RecordNote, to_deid: OffsetMap) -> list[tuple[int, int]]:
    text = note.deid_text
    if not note.sentences:
        return sentence_bounds(text)
    mapped = (trim(text, to_deid(s.start), to_deid(s.end, "end")) for s in note.sentences)
    return sorted(b for b in mapped if b[1] > b[0])


def _by_section(bounds: list[tuple[int, int]], sections: list[tuple[int, int, str]]):
    """Consecutive sentences grouped by the section holding their start (None before the first header)."""
    groups: list[tuple[str | None, list[tuple[int, int]]]] = []
    for start, end in bounds:
        label = next((name for s, e, name in sections if s <= start < e), None)
        if not groups or groups[-1][0] != label:
            groups.append((label, []))
        groups[-1][1].append((start, end))
    return groups


def _row(note: RecordNote, number: int, start: int, end: int, section: str | None) -> dict:
    metadata = {"patient_id": note.patient_id, "note_id": note.note_id, "record_id": note.record_id,
                "kind": note.kind, "section": section, "authored_at": note.authored_at}
    return {"id": f"{note.note_id}#{number}", "document_id": note.note_id, "start": start, "end": end,
            "text": note.deid_text[start:end], "metadata": metadata}
