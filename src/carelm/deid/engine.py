"""The PHI engine: runs every recognizer over a note and resolves overlapping candidates."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from carelm.deid.base import DeidDoc, PhiSpan, Recognizer

# Modules that define ``recognizers() -> list[Recognizer]`` for the default engine.
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
        return resolve_overlaps(candidates)


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
