"""The de-identification contract: PHI types, the spans recognizers return, and the Recognizer base.

A recognizer is mostly data (patterns, word lists, context words, a score).  ``load()``
compiles or reads that data once; ``find(doc)`` returns candidate spans.  The engine
(``carelm.deid.engine``) runs every recognizer and resolves overlaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

# HIPAA Safe Harbor identifiers as they occur in clinical text.
PHI_TYPES = (
    "NAME", "DATE", "AGE", "PHONE", "FAX", "EMAIL", "SSN", "MRN", "ACCOUNT", "HEALTH_PLAN", "LICENSE", "ID",
    "ADDRESS", "CITY", "STATE", "ZIP", "HOSPITAL", "LOCATION", "URL", "IP", "DEVICE", "VEHICLE",
)

TOKEN_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['\-])*|\d+|[^\s\w]|_")


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
        return [Token(m.start(), m.end(), m.group()) for m in TOKEN_RE.finditer(self.text)]

    @cached_property
    def mostly_upper(self) -> bool:
        """True for notes typed in capitals, where capitalisation says nothing about names."""
        letters = [c for c in self.text if c.isalpha()]
        return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.7


class Recognizer:
    """Base class: subclasses set ``name`` and ``types`` and implement ``find``."""

    name: ClassVar[str] = ""
    types: ClassVar[tuple[str, ...]] = ()

    def load(self) -> None:
        """Compile patterns and read word lists; called once before the first note."""

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        raise NotImplementedError
