"""Shared plumbing of the storeless JSONL interfaces (deid, extract): parsing lines and batching items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
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
