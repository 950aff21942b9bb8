"""Plain-text reader: one file is one note of one record."""

from __future__ import annotations

import os
from pathlib import Path

from carelm.core.errors import InputError
from carelm.core.types import Note, Patient, Record
from carelm.ingest.base import IngestIssue, ParsedRecord, ReaderOutput
from carelm.ingest.notes import normalize_kind
from carelm.ingest.safety import MAX_FILE_BYTES, input_issue_message, read_input


def relative_name(path: Path, root: Path | None) -> str:
    """The file's path relative to the ingest root (POSIX style), or its bare name outside any root."""
    if root is not None:
        candidates = ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (path.resolve(), root.resolve()))
        for file, base in candidates:
            if file.is_relative_to(base) and file != base:
                return file.relative_to(base).as_posix()
    return path.name


class TextReader:
    """Reads ``.txt``/``.md`` files; the note and record external id is the file name relative to ``root``.

    Without ``patient`` each file gets its own patient, keyed by the same name.
    """

    format = "text"

    def __init__(self, patient: str | None = None, kind: str = "note", root: Path | None = None,
                 max_bytes: int = MAX_FILE_BYTES):
        self.patient = patient
        self.kind = normalize_kind(kind)
        self.root = root
        self.max_bytes = max_bytes

    def read(self, path: Path) -> ReaderOutput:
        """Yield one record for the file, or an issue if it is empty or not UTF-8."""
        location = str(path)
        try:
            data = read_input(path, self.max_bytes)
        except (OSError, InputError) as exc:
            yield IngestIssue(location, input_issue_message(exc))
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield IngestIssue(location, f"file is not valid UTF-8 (byte {exc.start})")
            return
        if not text.strip():
            yield IngestIssue(location, "file is empty")
            return
        name = relative_name(path, self.root)
        note = Note(text=text, external_id=name, kind=self.kind)
        patient = Patient(external_id=self.patient or name)
        yield ParsedRecord(Record(patient=patient, notes=[note], external_id=name, source=location), location)
