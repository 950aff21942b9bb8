"""Shared plumbing of the storeless JSONL interfaces (deid, extract): parsing lines and batching items."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
INVALID = object()  # stands for a line that is not valid JSON


def json_objects(lines: Iterable[str], name: str) -> Iterator[tuple[str, Any]]:
    """``(location, object)`` for each non-blank line; the object is ``INVALID`` when the line is not JSON."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f"{name}:{number}", json.loads(line)
        except json.JSONDecodeError:
            yield f"{name}:{number}", INVALID


def in_batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, in order."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_batch(
    batch: list[Any], pipeline: Any, note_for: Callable[[int, Any], Any], output_for: Callable[[Any, Any], dict],
    failure: str,
) -> Iterator[dict]:
    """Run the pipeline on a batch of items (each with ``id`` and ``error``); one output per item, in order."""
    notes = {position: note_for(position, item) for position, item in enumerate(batch) if item.error is None}
    result = pipeline.run(list(notes.values()))
    failed = {note.id for note, _ in result.failed}
    for position, item in enumerate(batch):
        if item.error is not None:
            yield {"id": item.id, "error": item.error}
        elif str(position) in failed:
            yield {"id": item.id, "error": failure}
        else:
            yield output_for(item, notes[position])
