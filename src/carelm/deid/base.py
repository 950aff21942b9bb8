"""The de-identification contract: PHI types, the spans recognizers return, and the Recognizer base.

A recognizer is mostly data (patterns, word lists, context words, a score).  ``load()``
compiles or reads that data once; ``find(doc)`` returns candidate spans.  The engine
(``carelm.deid.engine``) runs every recognizer and resolves overlaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from typing import Any, ClassVar

# HIPAA Safe Harbor identifiers as they occur in clinical text.
PHI_TYPES = (
    "NAME", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN", "ACCOUNT", "HEALTH_PLAN", "LICENSE", "ID",
    "ADDRESS", "CITY", "STATE", "ZIP", "HOSPITAL", "LOCATION", "URL", "IP", "DEVICE", "VEHICLE",
)

TOKEN_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['\-])*|\d+|[^\s\w]|_")
# Splitting on a capturing group yields blanks and tokens in turn.  In ASCII text plain letter ranges stand in for
# the Unicode classes: the same tokens, three times faster.
_TOKEN_SPLIT = re.compile(f"({TOKEN_RE.pattern})")
_ASCII_TOKEN_SPLIT = re.compile(r"([A-Za-z][A-Za-z'\-]*|[0-9]+|[^\s\w]|_)")
# Characters that are not letters (not capitals), deleted from ASCII text to count its letters (capitals).
_ASCII_NOT_LETTER = bytes(c for c in range(128) if not chr(c).isalpha())
_ASCII_NOT_UPPER = bytes(c for c in range(128) if not chr(c).isupper())


@dataclass(slots=True)
class PhiSpan:
    """A candidate PHI span [start, end) of the note text with its type and confidence."""

    start: int
    end: int
    type: str
    score: float
    source: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def overlaps(self, other: PhiSpan) -> bool:
        return self.start < other.end and other.start < self.end


def token_offsets(text: str) -> tuple[list[str], list[int], list[int]]:
    """The tokens of ``text`` as :data:`TOKEN_RE` finds them, and their start and end offsets (parallel lists)."""
    parts = (_ASCII_TOKEN_SPLIT if text.isascii() else _TOKEN_SPLIT).split(text)  # blank, token, ... blank
    offsets = list(accumulate(map(len, parts), initial=0))
    return parts[1::2], offsets[1:-1:2], offsets[2::2]


@dataclass(slots=True)
class Token:
    start: int
    end: int
    text: str


class DeidDoc:
    """A note as recognizers see it: the text, its tokens, and cheap facts about its style."""

    def __init__(
        self, text: str, *, kind: str = "note", sections: list[tuple[int, int, str]] | None = None,
        known: dict[str, list[str]] | None = None,
    ):
        self.text = text
        self.kind = kind
        self.sections = sections or []
        self.known = known or {}

    @cached_property
    def tokens(self) -> list[Token]:
        texts, starts, ends = token_offsets(self.text)
        return [Token(start, end, text) for text, start, end in zip(texts, starts, ends, strict=True)]

    @cached_property
    def mostly_upper(self) -> bool:
        """True for notes typed in capitals, where capitalisation says nothing about names."""
        text = self.text
        if text.isascii():
            raw = text.encode("ascii")
            letters, upper = len(raw.translate(None, _ASCII_NOT_LETTER)), len(raw.translate(None, _ASCII_NOT_UPPER))
        else:
            chars = [c for c in text if c.isalpha()]
            letters, upper = len(chars), sum(c.isupper() for c in chars)
        return bool(letters) and upper / letters > 0.7


class Recognizer:
    """Base class: subclasses set ``name`` and ``types`` and implement ``find``."""

    name: ClassVar[str] = ""
    types: ClassVar[tuple[str, ...]] = ()

    def load(self) -> None:
        """Compile patterns and read word lists; called once before the first note."""

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        raise NotImplementedError
