"""CSV reader: one note per row, columns mapped onto the note object schema of ``notes.py``."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.ingest.base import IngestIssue, ParsedRecord, ReaderOutput
from carelm.ingest.notes import parse_note_object
from carelm.ingest.safety import MAX_FILE_BYTES, input_issue_message, open_input

DEFAULT_COLUMNS = {
    "text": "text",
    "id": "id",
    "patient": "patient",
    "record": "record",
    "kind": "kind",
    "title": "title",
    "date": "date",
}


@dataclass(slots=True)
class CsvMapping:
    """Column names for each note field; ``None`` means the default name, which may be absent.

    A column set explicitly by the user (listed in ``explicit``) must exist in the file; the text
    column is always required.
    """

    text: str | None = None
    id: str | None = None
    patient: str | None = None
    record: str | None = None
    kind: str | None = None
    title: str | None = None
    date: str | None = None
    explicit: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        explicit = set()
        for name, default in DEFAULT_COLUMNS.items():
            if getattr(self, name) is None:
                setattr(self, name, default)
            else:
                explicit.add(name)
        self.explicit = frozenset(explicit)

    def columns(self) -> dict[str, str]:
        """The note field → column name map (all fields, defaults filled in)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in DEFAULT_COLUMNS}

    def required(self) -> set[str]:
        """Note fields whose column must be present: the text column and every user-set column."""
        return {"text"} | set(self.explicit)


def _raise_field_size_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


class CsvReader:
    """Reads ``.csv`` files with a header row; a bad row becomes an issue and the file goes on."""

    format = "csv"

    def __init__(self, mapping: CsvMapping | None = None, max_bytes: int = MAX_FILE_BYTES):
        self.mapping = mapping or CsvMapping()
        self.max_bytes = max_bytes

    def read(self, path: Path) -> ReaderOutput:
        """Yield a record or an issue per data row; raise ``InputError`` if required columns are missing."""
        _raise_field_size_limit()
        try:
            raw = open_input(path, self.max_bytes)
        except (OSError, InputError) as exc:
            yield IngestIssue(str(path), input_issue_message(exc))
            return
        with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise InputError(f"cannot read CSV header: {_reason(exc)}", location=str(path)) from None
            present = self._check_header(path, header)
            yield from self._rows(path, reader, header or [], present)

    def _check_header(self, path: Path, header: list[str] | None) -> dict[str, int]:
        header = [name.strip() for name in header or []]
        columns = self.mapping.columns()
        missing = sorted(columns[f] for f in self.mapping.required() if columns[f] not in header)
        if missing:
            raise InputError(
                f"missing CSV column(s) {', '.join(missing)}; available columns: {', '.join(header) or '(none)'}",
                location=str(path),
            )
        return {f: header.index(col) for f, col in columns.items() if col in header}

    def _rows(self, path: Path, reader: Any, header: list[str], present: dict[str, int]) -> ReaderOutput:
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                yield IngestIssue(f"{path}:{start}", f"cannot read CSV: {_reason(exc)}; rest of file skipped")
                return
            location = f"{path}:{start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                yield IngestIssue(location, f"row has {len(row)} fields but the header has {len(header)}")
                continue
            yield self._parse_row(row, present, location)

    def _parse_row(self, row: list[str], present: dict[str, int], location: str) -> ParsedRecord | IngestIssue:
        obj = {f: row[i] for f, i in present.items() if i < len(row) and row[i].strip()}
        result = parse_note_object(obj, location)
        if isinstance(result, IngestIssue):
            return IngestIssue(location, self._name_columns(result.message))
        return result

    def _name_columns(self, message: str) -> str:
        for name, column in self.mapping.columns().items():
            prefix = f"field '{name}'"
            if message.startswith(prefix) and column != name:
                return f"column '{column}' ({prefix}){message[len(prefix) :]}"
        return message


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "file is not valid UTF-8"
    return str(exc).split(":")[0]
