"""Token tests behind the place rules: is this word part of a place name, and how far does the name run."""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from carelm.deid.base import PhiSpan
from carelm.deid.lexicon import AMBIG, NAME, TYPO, UNKNOWN, WORD, Lexicon, TokenView

if TYPE_CHECKING:
    from carelm.deid.locations import PlaceContext

MAX_PLACE_TOKENS = 5
VERB_REACH = 8
AMBIGUOUS_STATES = frozenset({"md", "pa", "ma", "de", "me", "or", "in", "ok", "hi", "co", "oh", "la", "id", "ms", "mt",
                              "ne", "al", "do"})
EPONYM_AFTER = frozenset({"disease", "syndrome", "scale", "score", "coma", "criteria", "classification", "chromosome",
                          "shunt", "brace", "tube", "catheter", "sign", "test", "fever", "virus", "plaster"})
STATE_SCORE = 0.6
PLACE_CUES = frozenset({"in", "from", "to", "visit", "visiting", "visited", "across", "southern", "northern",
                        "eastern", "western", "central"})


class PlaceRules:
    """Token tests and name extent for one note; subclasses add the context rules."""

    def __init__(self, view: TokenView, ctx: PlaceContext, lex: Lexicon):
        self.v, self.ctx, self.lex = view, ctx, lex
        self.n = view.n
        self.spans: list[PhiSpan] = []
        self.verb_heads = view.at(ctx.movement_verbs.keys())  # where a movement verb may start

    def text(self, i: int) -> str:
        """The text of token ``i`` ("" outside the note)."""
        return self.v.texts[i] if 0 <= i < self.n else ""

    def add(self, start: int, end: int, kind: str, score: float) -> None:
        """Record tokens [start, end) as a place of ``kind``."""
        end = min(end, self.n)
        if 0 < end < self.n and self.v.starts[end] == self.v.ends[end - 1] and self.text(end).isdigit():
            end += 1
        if start < end:
            self.spans.append(PhiSpan(self.v.starts[start], self.v.ends[end - 1], kind, score, "locations"))

    def cased(self, i: int) -> bool:
        """See :meth:`TokenView.cased`."""
        return self.v.cased(i)

    def eponym_after(self, end: int) -> bool:
        """True when a medical head noun follows ("Glasgow coma scale")."""
        return end < self.n and self.v.low[end] in EPONYM_AFTER

    def city_at(self, j: int) -> int:
        """End of a gazetteer city starting at token ``j`` (0 when none)."""
        size = self.v.matches(j, self.ctx.cities)
        return j + size if size else 0

    def state(self, k: int) -> bool:
        """True for a US state name or abbreviation at token ``k``."""
        return self.v.low[k] in self.ctx.states or self.v.matches(k, self.ctx.state_names) > 0

    def place_word(self, k: int, loose: bool = False, facility: bool = False) -> bool:
        """Whether token ``k`` can be part of a place name (of a facility name: states allowed)."""
        v = self.v
        if not v.alpha(k):
            return False
        low = v.low[k]
        if low in self.ctx.stop_words or low in self.ctx.known_places:
            return False
        if not facility and v.matches(k, self.ctx.hospital_heads):
            return False
        named = low in self.ctx.name_words or self.city_at(k) > 0 or (facility and self.state(k))
        if facility and low in self.ctx.name_words:
            return True
        if self.cased(k):
            if not (v.cap[k] or v.upper(k)):
                return v.kind[k] == UNKNOWN and len(low) > 3
            return named or v.kind[k] != WORD or ((facility or loose) and v.cap[k])
        return named or v.kind[k] in (NAME, UNKNOWN) or (loose and v.kind[k] in (AMBIG, TYPO))

    def distinct(self, k: int, capitals: bool = False) -> bool:
        """A word that names a place on its own (not "General", "Community", "Memorial"); with ``capitals``
        any capitalised word of a mixed-case note ("Cedar Hollow Hospital")."""
        v = self.v
        low = v.low[k].removesuffix("'s")
        if not v.alpha(k) or len(low) < 2:
            return False
        if capitals and self.cased(k) and v.cap[k] and (self.cased(k - 1) and self.v.cap[k - 1] or
                                                         low not in self.ctx.generic_words):
            return True
        if low in self.ctx.generic_words:
            return False
        return v.kind[k] != WORD or low in self.ctx.name_words or self.city_at(k) > 0 or self.state(k)

    def name_left(self, head: int, capitals: bool = False) -> int:
        """Start of the facility name that ends just before token ``head`` (``head`` when none)."""
        start, k = head, head - 1
        for _ in range(MAX_PLACE_TOKENS):
            if k < 0 or self.v.newline_before[k + 1]:
                break
            if self.text(k) == "." and self.v.low[k - 1:k] and self.v.low[k - 1] in self.ctx.saints:
                k -= 1
            elif self.v.low[k] == "of" and k > 0 and self.place_word(k - 1, facility=True) and start < head:
                pass
            elif not self.place_word(k, facility=True):
                break
            start, k = k, k - 1
        return start if self.distinct_in(start, head, capitals) else head

    def distinct_in(self, start: int, end: int, capitals: bool = False) -> bool:
        """True when tokens [start, end) hold a distinct place word."""
        return any(self.distinct(k, capitals) for k in range(start, end))

    def name_right(self, j: int) -> int:
        """End of a run of place words starting at token ``j`` on the same line."""
        end = j
        while end < self.n and end - j < MAX_PLACE_TOKENS and not self.v.newline_before[end]:
            if self.place_word(end, facility=True) or (
                    self.v.low[end] == "of" and self.place_word(end + 1, facility=True) and end > j):
                end += 1
            else:
                break
        return end

    def place_run(self, j: int, loose: bool = False) -> int:
        """End of a distinct place name starting at ``j`` ("Quartermain", "white marsh" with ``loose``)."""
        if j >= self.n or self.v.newline_before[j] or not self.place_word(j, loose) or self.state(j):
            return j
        end = self.name_right(j + 1)
        if loose and end == j + 1 and self.v.kind[j] in (AMBIG, TYPO) and not self.cased(j):
            return j
        return end if self.distinct_in(j, end, loose) and not self.eponym_after(end) else j

    def saint_name(self, i: int, j: int) -> bool:
        """The name after "St." at ``i``: a given name, or in mixed case any capitalised word after "St."."""
        v = self.v
        low = v.low[j].removesuffix("'s")
        if v.alpha(j) and len(low) == 1 and self.text(j).isupper():
            return v.cap[i] and not v.upper(i) and not v.doc.mostly_upper
        if not v.alpha(j) or len(low) < 2 or low in self.ctx.stop_words:
            return False
        if self.cased(j) and v.cap[j] and v.cap[i]:
            return True
        return v.kind[j] != WORD and (low in self.lex.first or (self.cased(j) and v.cap[j]))

    def generic_name(self, k: int) -> bool:
        """A capitalised generic word written as a name before a capitalised facility word ("General Hospital")."""
        v = self.v
        return k >= 0 and v.low[k] in self.ctx.generic_words and self.cased(k) and v.cap[k] and v.cap[k + 1] \
            and not v.newline_before[k + 1]

    def country_ok(self, i: int, size: int) -> bool:
        """Whether the country name of ``size`` tokens at ``i`` is one here: capitalised in a mixed-case note,
        and after a place cue or before a postcode where it is also a given name or the note is in one case."""
        v = self.v
        if self.cased(i) and not v.cap[i]:
            return False
        cue = (i > 0 and v.low[i - 1] in PLACE_CUES) or self.text(i + size)[:1].isdigit()
        person = size == 1 and v.kind[i] in (NAME, AMBIG)
        if person:
            return cue and self.cased(i)
        return cue or self.cased(i)

    def verb_before(self, i: int) -> str | None:
        """The movement verb within reach before the preposition at ``i`` (same line), if any."""
        nearest = bisect_left(self.verb_heads, i) - 1
        if nearest < 0 or self.verb_heads[nearest] < i - VERB_REACH:
            return None
        verbs = self.ctx.movement_verbs
        for k in range(i - 1, max(i - 1 - VERB_REACH, -1), -1):
            if self.v.low[k] in verbs and self.v.matches(k, verbs):
                return self.v.low[k]
            if self.v.newline_before[k] or self.text(k) in ".;:":
                break
        return None

    def state_after(self, end: int) -> None:
        """A state after a city: "Annapolis, MD", "Hampton,MA", "Rockville, Maryland 20850"."""
        comma = self.text(end) == ","
        j = end + comma
        if j >= self.n or self.v.newline_before[j]:
            return
        low = self.v.low[j]
        zip_after = self.text(j + 1)[:1].isdigit()
        city = self.v.low[end - 1].removesuffix("'s")
        person = city in self.lex.first or city in self.lex.last
        if low in AMBIGUOUS_STATES and person and not zip_after:
            return
        if low in self.ctx.states and (self.v.upper(j) or self.v.caseless) and (comma or zip_after):
            self.add(j, j + 1, "STATE", STATE_SCORE)
            return
        size = self.v.matches(j, self.ctx.state_names)
        if size:
            self.add(j, j + size, "STATE", STATE_SCORE)



