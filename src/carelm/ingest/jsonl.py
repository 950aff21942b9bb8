"""JSON Lines reader: one note object per line, streamed so large files fit in memory."""

from __future__ import annotations

import json
from pathlib import Path

from carelm.core.errors import InputError
from carelm.ingest.base import IngestIssue, ParsedRecord, ReaderOutput
from carelm.ingest.notes import parse_note_object
from carelm.ingest.safety import MAX_FILE_BYTES, input_issue_message, open_input

_BOM = b"\xef\xbb\xbf"


class JsonlReader:
    """Reads ``.jsonl``/``.ndjson`` files; each non-blank line is one note object (see ``notes.py``)."""

    format = "jsonl"

    def __init__(self, max_bytes: int = MAX_FILE_BYTES):
        self.max_bytes = max_bytes

    def read(self, path: Path) -> ReaderOutput:
        """Yield a record or an issue per non-blank line; a bad line never stops the file."""
        try:
            handle = open_input(path, self.max_bytes)
        except (OSError, InputError) as exc:
            yield IngestIssue(str(path), input_issue_message(exc))
            return
        with handle:
            for lineno, raw in enumerate(handle, start=1):
                if lineno == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                if not raw.strip():
                    continue
                yield self._parse_line(raw, f"{path}:{lineno}")

    @staticmethod
    def _parse_line(raw: bytes, location: str) -> ParsedRecord | IngestIssue:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return IngestIssue(location, f"line is not valid UTF-8 (byte {exc.start})")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            return IngestIssue(location, f"invalid JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            return IngestIssue(location, "invalid JSON: nested too deeply")
        return parse_note_object(obj, location)
