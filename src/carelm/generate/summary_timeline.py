"""The time order of a patient's notes and record items, and the summary's timeline.

Notes are dated by ``authored_at`` and record items by ``effective``; undated sources count as the oldest
when deciding which note is the most recent, and are listed last in the timeline.  Each timeline entry cites
the stored fields it shows (a note's date, kind and title; an item's effective date and display), and lists
the summary items first documented there.
"""

from __future__ import annotations

from carelm.generate.summary_model import FieldCitation, SourceItem, SourceNote, TimelineEntry

Source = SourceNote | SourceItem


def source_date(source: Source) -> str | None:
    """The ISO date (or date-time) of a note or record item, or None."""
    if isinstance(source, SourceNote):
        return source.authored_at.isoformat() if source.authored_at else None
    return source.effective or None


def time_order(notes: list[SourceNote], items: list[SourceItem]) -> list[Source]:
    """Notes and items, oldest first (undated first, then by date; ties keep the stored order)."""
    sources: list[Source] = [*notes, *items]
    positions = {id(source): index for index, source in enumerate(sources)}
    return sorted(sources, key=lambda s: (source_date(s) is not None, source_date(s) or "", positions[id(s)]))


def _note_entry(note: SourceNote) -> TimelineEntry:
    citations = []
    if note.authored_at is not None:
        citations.append(FieldCitation("notes", note.id, "authored_at", note.authored_at.isoformat(), note.record_id))
    citations.append(FieldCitation("notes", note.id, "kind", note.kind, note.record_id))
    label = note.kind.replace("_", " ")
    if note.title:
        citations.append(FieldCitation("notes", note.id, "title", note.title, note.record_id))
        label = f"{note.title} ({label})"
    date = note.authored_at.date().isoformat() if note.authored_at else None
    return TimelineEntry("", date, "note", label, citations)


def _item_entry(item: SourceItem) -> TimelineEntry:
    label = f"{item.kind}: {item.display}" + (f" ({item.status})" if item.status else "")
    citations = [FieldCitation("record_items", item.id, "effective", item.effective or "", item.record_id),
                 FieldCitation("record_items", item.id, "display", item.display, item.record_id)]
    return TimelineEntry("", (item.effective or "")[:10] or None, item.kind, label, citations)


def build_timeline(sources: list[Source], first_source: dict[str, str]) -> list[TimelineEntry]:
    """One entry per note and per dated record item, oldest first and undated last."""
    introduced: dict[str, list[str]] = {}
    for item_id, source in first_source.items():
        introduced.setdefault(source, []).append(item_id)
    entries = []
    for order, source in enumerate(sources):
        if isinstance(source, SourceNote):
            entry, key = _note_entry(source), source.id
        elif source.effective:
            entry, key = _item_entry(source), f"item:{source.id}"
        else:
            continue
        entry.item_ids = sorted(introduced.get(key, []), key=_item_sort_key)
        entries.append((entry.date is None, entry.date or "", order, entry))
    entries.sort(key=lambda row: row[:3])
    timeline = [row[3] for row in entries]
    for number, entry in enumerate(timeline, start=1):
        entry.id = f"event-{number}"
    return timeline


def _item_sort_key(item_id: str) -> tuple[str, int]:
    prefix, _, number = item_id.rpartition("-")
    return prefix, int(number) if number.isdigit() else 0
