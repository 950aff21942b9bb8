"""Rendering of records and summaries for the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from carelm.api.schemas import RecordDetail
from carelm.cli.common import console
from carelm.core.types import Span
from carelm.service.extract import CODES, MENTIONS, codes_by_offsets
from carelm.store.views import StoredNote, StoredRecord

FLAG_NAMES = {"negated": "NEG", "uncertain": "UNC", "historical": "HIST", "hypothetical": "HYP", "family": "FAM"}


def print_record(record: StoredRecord, *, as_json: bool) -> None:
    """Print a record: JSON, or per note a table of layers plus a table of mentions with flags and codes."""
    detail = RecordDetail.of(record)
    if as_json:
        console.print_json(detail.model_dump_json())
        return
    console.print(f"record {record.id}  patient {record.patient_id}  source {record.source}", highlight=False)
    for note in record.notes:
        _print_note(note)
    for item in detail.items:
        console.print(f"{item.kind}: {item.display} {item.code or ''} {item.value or ''} {item.unit or ''}")


def _print_note(note: StoredNote) -> None:
    text = note.text or ""
    has_mentions = MENTIONS in note.layers
    table = Table(title=f"note {note.id} ({note.kind}, {note.char_count} chars, {note.status})")
    for column in ("layer", "start", "end", "label", "text"):
        table.add_column(column)
    for layer, spans in note.layers.items():
        if has_mentions and layer in (MENTIONS, CODES):
            continue
        for span in spans:
            table.add_row(layer, str(span.start), str(span.end), span.label, _excerpt(text, span))
    console.print(table)
    if has_mentions:
        console.print(mentions_table(note))
    if note.text is None and note.deid_text is not None:  # span texts index the original, shown with --raw only
        console.print(f"de-identified text of note {note.id}:", highlight=False)
        console.print(Text(note.deid_text))


def mentions_table(note: StoredNote) -> Table:
    """Mentions of a note with their type, assertion flags (NEG UNC HIST HYP FAM), section and best code."""
    codes = codes_by_offsets(note.layers.get(CODES, []))
    table = Table(title=f"mentions of note {note.id}")
    for column in ("start", "text", "type", "flags", "section", "top code"):
        table.add_column(column)
    for span in sorted(note.layers[MENTIONS], key=lambda s: (s.start, s.end)):
        flags = " ".join(short for name, short in FLAG_NAMES.items() if span.attributes.get(name))
        best = codes.get((span.start, span.end), [])
        top = f"{best[0]['code']} {best[0]['display'] or ''}".strip()[:50] if best else ""
        table.add_row(str(span.start), _excerpt(note.text or "", span), span.label, flags,
                      span.attributes.get("section") or "", Text(top))
    return table


def _excerpt(text: str, span: Span) -> Text:
    return Text(text[span.start : span.end].replace("\n", " ")[:60])


def print_summary(stats: dict[str, Any], seconds: float) -> None:
    layers = stats.get("annotations", {})
    table = Table(title="carelm demo summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("patients", "records", "notes", "record_items"):
        table.add_row(key, str(stats.get(key, 0)))
    for layer, count in layers.items():
        table.add_row(f"annotations: {layer}", str(count))
    table.add_row("time taken", f"{seconds:.1f} s")
    console.print(table)
    console.print(json.dumps({"summary": {**stats, "seconds": round(seconds, 2)}}), highlight=False, soft_wrap=True)
