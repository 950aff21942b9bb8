"""From annotation offsets (raw text) to citations in the cited text view.

Annotation layers index the raw text.  The de-identified view differs in length wherever PHI was replaced;
each ``phi`` span records where its replacement landed (``new_start``/``new_end``), which is enough to move
any raw offset into the de-identified text: offsets after a replacement shift by its change in length, and
an offset strictly inside a replaced span widens to the whole replacement.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from carelm.core.types import Span
from carelm.generate.summary_model import DEID, SourceNote, SpanCitation

MAX_QUOTE = 280  # a citation window around a mention: at most this many characters of its sentence
_CONTEXT = 120


class ViewMap:
    """Maps ``[start, end)`` of a note's raw text into its cited view."""

    def __init__(self, note: SourceNote):
        self.identity = note.view != DEID
        replaced = [] if self.identity else _replacements(note.layers.get("phi", []))
        self._spans = replaced
        self._starts = [r[0] for r in replaced]
        self._ends = [r[1] for r in replaced]

    def position(self, pos: int, *, is_end: bool) -> int:
        if self.identity or not self._spans:
            return pos
        inside = bisect_right(self._starts, pos - 1) - 1  # last replacement starting before pos
        if inside >= 0 and self._spans[inside][0] < pos < self._spans[inside][1]:
            return self._spans[inside][3] if is_end else self._spans[inside][2]
        done = bisect_right(self._ends, pos) - 1  # last replacement ending at or before pos
        if done < 0:
            return pos
        _, end, _, new_end = self._spans[done]
        return pos + (new_end - end)

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.position(start, is_end=False), self.position(end, is_end=True)


def _replacements(phi: Sequence[Span]) -> list[tuple[int, int, int, int]]:
    rows = []
    for span in phi:
        new_start, new_end = span.attributes.get("new_start"), span.attributes.get("new_end")
        if isinstance(new_start, int) and isinstance(new_end, int):
            rows.append((span.start, span.end, new_start, new_end))
    return sorted(rows)


def overlaps_any(start: int, end: int, spans: Sequence[Span]) -> bool:
    """Whether ``[start, end)`` shares a character with one of ``spans``."""
    return any(span.start < end and start < span.end for span in spans)


def sentence_of(note: SourceNote, start: int, end: int) -> tuple[int, int] | None:
    """The raw range of the sentence holding ``[start, end)``, or None."""
    for sentence in note.layers.get("sentences", []):
        if sentence.start <= start and end <= sentence.end:
            return sentence.start, sentence.end
    return None


def mention_citation(note: SourceNote, view_map: ViewMap, start: int, end: int, *, status: str | None = None,
                     section: str | None = None) -> SpanCitation:
    """A citation of the sentence holding the raw mention ``[start, end)`` (else its line), in the note's view.

    A long sentence is cut to a window of words around the mention; the cited range never splits a word.
    """
    text = note.text
    mention_start, mention_end = view_map.span(start, end)
    sentence = sentence_of(note, start, end)
    if sentence is not None:
        low, high = view_map.span(*sentence)
    else:
        low = text.rfind("\n", 0, mention_start) + 1
        high = text.find("\n", mention_end)
        high = len(text) if high < 0 else high
    if high - low > MAX_QUOTE:
        if mention_start - low > _CONTEXT:
            cut = text.find(" ", mention_start - _CONTEXT, mention_start)
            low = cut + 1 if cut >= 0 else mention_start
        if high - mention_end > _CONTEXT:
            cut = text.rfind(" ", mention_end, mention_end + _CONTEXT)
            high = cut if cut >= 0 else mention_end
    return trimmed(note, low, high, status=status, section=section)


def trimmed(note: SourceNote, low: int, high: int, *, status: str | None = None,
            section: str | None = None) -> SpanCitation:
    """A citation of ``note.text[low:high]`` without its surrounding whitespace."""
    text = note.text
    low, high = max(0, low), min(len(text), high)
    while low < high and text[low].isspace():
        low += 1
    while high > low and text[high - 1].isspace():
        high -= 1
    return SpanCitation(note.id, low, high, text[low:high], note.view, status, section)
