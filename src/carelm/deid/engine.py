"""The PHI engine: runs every recognizer over a note and resolves overlapping candidates."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable

from carelm.deid.base import DeidDoc, PhiSpan, Recognizer

# Modules that define ``recognizers() -> list[Recognizer]`` for the default engine.
WORD_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|')+")

DEFAULT_RECOGNIZER_MODULES = ("carelm.deid.patterns", "carelm.deid.names", "carelm.deid.locations")


def default_recognizers() -> list[Recognizer]:
    found: list[Recognizer] = []
    for module in DEFAULT_RECOGNIZER_MODULES:
        found.extend(importlib.import_module(module).recognizers())
    return found


class PhiEngine:
    """Finds PHI with a set of recognizers; overlapping spans are merged, keeping the strongest type."""

    def __init__(self, recognizers: Iterable[Recognizer] | None = None, threshold: float = 0.0):
        self.recognizers = list(recognizers) if recognizers is not None else default_recognizers()
        self.threshold = threshold
        self._loaded = False

    def load(self) -> None:
        if not self._loaded:
            for recognizer in self.recognizers:
                recognizer.load()
            self._loaded = True

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        self.load()
        candidates = [span for r in self.recognizers for span in r.find(doc) if span.score >= self.threshold]
        found = resolve_overlaps(candidates + known_occurrences(doc))
        return resolve_overlaps(found + propagate(doc, found))


PROPAGATED_TYPES = ("NAME", "HOSPITAL", "LOCATION")
MIN_PROPAGATED = 3


def known_occurrences(doc: DeidDoc) -> list[PhiSpan]:
    """Every whole-word occurrence, in any case, of identifiers already known for the patient."""
    spans = []
    for phi_type, values in doc.known.items():
        words = sorted({v for v in values if len(v) >= 2}, key=len, reverse=True)
        if words:
            alternation = "|".join(re.escape(w) for w in words)
            pattern = re.compile(rf"(?<![\w'-])(?:{alternation})(?![\w'-])", re.IGNORECASE)
            spans += [PhiSpan(m.start(), m.end(), phi_type, 0.95, "known") for m in pattern.finditer(doc.text)]
    return spans


def propagate(doc: DeidDoc, found: list[PhiSpan]) -> list[PhiSpan]:
    """Flag the other occurrences in the note of names and places already found there.

    A name found once in context ("Dr. Lund") is PHI wherever else it appears in the same note
    ("Lund called back").  Whole words only; case-sensitive unless the note is typed in capitals.
    """
    words: dict[str, str] = {}
    for span in found:
        if span.type in PROPAGATED_TYPES:
            for match in WORD_RE.finditer(doc.text, span.start, span.end):
                if len(match.group()) >= MIN_PROPAGATED and match.group()[0].isupper():
                    words.setdefault(match.group(), span.type)
    if not words:
        return []
    flags = re.IGNORECASE if doc.mostly_upper else 0
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w'-])(?:{alternation})(?![\w'-])", flags)
    lookup = {w.lower(): t for w, t in words.items()} if flags else words
    return [PhiSpan(m.start(), m.end(), lookup[m.group().lower() if flags else m.group()], 0.6, "propagated")
            for m in pattern.finditer(doc.text)]


def resolve_overlaps(spans: list[PhiSpan]) -> list[PhiSpan]:
    """Merge overlapping spans into one covering span (recall first); the best-scored part names the type."""
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[PhiSpan] = []
    for span in ordered:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            best = max((last, span), key=lambda s: (s.score, s.end - s.start))
            merged[-1] = PhiSpan(last.start, max(last.end, span.end), best.type, max(last.score, span.score),
                                 best.source, dict(best.attributes))
        else:
            merged.append(PhiSpan(span.start, span.end, span.type, span.score, span.source, dict(span.attributes)))
    return merged
