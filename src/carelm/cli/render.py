"""Rendering of records and summaries for the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from carelm.api.schemas import RecordDetail
from carelm.cli.common import console
from carelm.store.views import StoredRecord


def print_record(record: StoredRecord, *, as_json: bool) -> None:
    detail = RecordDetail.of(record)
    if as_json:
        console.print_json(detail.model_dump_json())
        return
    console.print(f"record {record.id}  patient {record.patient_id}  source {record.source}", highlight=False)
    for note in detail.notes:
        table = Table(title=f"note {note.id} ({note.kind}, {note.char_count} chars, {note.status})")
        for column in ("layer", "start", "end", "label", "text"):
            table.add_column(column)
        for layer, spans in note.layers.items():
            for span in spans:
                excerpt = (note.text or "")[span.start : span.end].replace("\n", " ")
                table.add_row(layer, str(span.start), str(span.end), span.label, excerpt[:60])
        console.print(table)
    for item in detail.items:
        console.print(f"{item.kind}: {item.display} {item.code or ''} {item.value or ''} {item.unit or ''}")


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
