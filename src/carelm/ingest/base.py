"""What every reader yields: parsed records, or issues naming where the input was wrong.

Readers never stop at the first bad entry: they yield an ``IngestIssue`` for it and go
on, so the service can commit the good records and report the bad ones.  Issue
messages name the file, line or entry and the field, never the note text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from carelm.core.types import Record


@dataclass(frozen=True, slots=True)
class IngestIssue:
    """A rejected input entry: where it is (``file:line`` or ``file#entry[3].resource.x``) and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(slots=True)
class ParsedRecord:
    """A record read from the input and the place it came from."""

    record: Record
    location: str


ReaderOutput = Iterator[ParsedRecord | IngestIssue]


class Reader(Protocol):
    """Reads one input file into records and issues."""

    format: str

    def read(self, path: Path) -> ReaderOutput: ...
