"""Cutting text into passages: sentence bounds, and runs of sentences up to a word budget.

Used where no ``sentences`` layer exists (literature, notes processed without the sentence stage):
a sentence ends at ``.``, ``!`` or ``?`` followed by white space, or at a line break.  Bounds are
``(start, end)`` character offsets with surrounding white space trimmed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_WORD = re.compile(r"\S+")


def sentence_bounds(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence ``(start, end)`` offsets of ``text[start:end]``, in ``text`` coordinates."""
    end = len(text) if end is None else end
    bounds = []
    position = start
    for match in _BREAK.finditer(text, start, end):
        bounds.append((position, match.start()))
        position = match.end()
    bounds.append((position, end))
    return [trimmed for s, e in bounds if (trimmed := trim(text, s, e))[1] > trimmed[0]]


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` moved inwards past white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def word_count(text: str, start: int, end: int) -> int:
    return sum(1 for _ in _WORD.finditer(text, start, end))


def sentence_runs(text: str, bounds: Iterable[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Consecutive sentences grouped into runs of at most ``max_words`` words (a longer sentence is cut
    at word boundaries into pieces of ``max_words``)."""
    runs: list[tuple[int, int]] = []
    run_start = run_end = -1
    words = 0
    for start, end in bounds:
        for piece_start, piece_end, count in _pieces(text, start, end, max_words):
            if run_start >= 0 and words + count > max_words:
                runs.append((run_start, run_end))
                run_start = -1
            if run_start < 0:
                run_start, words = piece_start, 0
            run_end = piece_end
            words += count
    if run_start >= 0:
        runs.append((run_start, run_end))
    return runs


def _pieces(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int, int]]:
    """``(start, end, words)`` of a sentence, cut into pieces of at most ``max_words`` words."""
    matches = list(_WORD.finditer(text, start, end))
    if len(matches) <= max_words:
        return [(start, end, len(matches))]
    return [(matches[i].start(), matches[min(i + max_words, len(matches)) - 1].end(),
             min(max_words, len(matches) - i)) for i in range(0, len(matches), max_words)]
