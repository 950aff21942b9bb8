"""Structured logging: messages are fixed strings, identifiers travel as ``extra`` fields.

Never pass note text to a logger; log ids, counts and error types.
"""

from __future__ import annotations

import logging
import sys

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}


class KeyValueFormatter(logging.Formatter):
    """``time level logger message key=value ...`` with the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{base} {extras}".rstrip()
        if record.exc_info:
            # Only the exception type: exception messages may quote input text.
            line += f" exc_type={record.exc_info[0].__name__}"
        return line


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (it may be swapped, e.g. by test runners)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("carelm")
    if not any(isinstance(h.formatter, KeyValueFormatter) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(KeyValueFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
