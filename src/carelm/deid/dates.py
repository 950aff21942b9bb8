"""Dates in their clinical forms: ``3/14/2023``, ``03-14-23``, ``2019-03-04``, ``March 14, 2023``, ``Mar 3rd``,
``3rd of March``, ``14-Mar-2023``, ``Jan '19``, ``on the 5th``, month/day ``8/18``, and years in date context.

Regexes find candidates in one pass per form; code decides the ambiguous ones from the words around
them (:mod:`carelm.deid.date_context`): ``8/18`` after ``admitted`` is a date, ``2/6`` before ``murmur``,
``5/5`` after ``PS``, ``1/2`` before ``NS`` and ``4/10`` after ``pain`` are not.  Weekdays, seasons and
times of day are not PHI and are not flagged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from carelm.core.rules import trie_regex
from carelm.deid.base import DeidDoc, PhiSpan, Recognizer
from carelm.deid.date_context import DateContext, DateLexicon, load_lexicon
from carelm.deid.patterns import lower_view, word_regex

_MONTH_WORDS = ("jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul",
                "july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec",
                "december")
_MONTH = trie_regex(sorted(_MONTH_WORDS))
_ORD = r"(?:st|nd|rd|th)"
_YEAR = r"(?:(?:19|20)\d\d|'\d\d)"
_AMBIGUOUS_MONTHS = frozenset({"may", "mar", "march", "dec", "aug", "sep"})
_FULL_MONTHS = frozenset({"january", "february", "april", "june", "july", "august", "september", "october",
                          "november", "december"})
_TIME_PREPS = frozenset({"since", "until", "till", "til", "from", "by", "before", "after", "around", "about",
                         "approx", "approximately"})
_WEAK_CUES = frozenset({"on", "from", "to", "last", "done", "before", "after"})
_APPROXIMATE = frozenset({"around", "about", "approx", "approximately", "by"})
_HOUR_WORDS = frozenset({"h", "hr", "hrs", "hours", "am", "pm", "a.m", "p.m", "->"})

# Candidate regexes start with a character class so that the regex engine skips ahead quickly; the
# boundary before the first character is checked by a lookbehind right after it.
NUMERIC = re.compile(r"(?P<a>\d(?<![\w/.]\d)\d{0,3})(?P<sep>[/.-])(?P<b>\d{1,4})(?:(?P=sep)(?P<c>\d{2,4}))?"
                     r"(?![\w/]|[.,]\d)")
DAY_WORDS = re.compile(
    rf"(?P<d>\d(?<![\w/.-]\d)\d?)(?P<o>{_ORD})?(?:(?P<of>[ \t]+of)?(?:[ \t]+|(?P<h>-))(?P<m>{_MONTH})(?![a-z])\.?"
    rf"(?:(?:,[ \t]*|[ \t]+|-)(?P<y>(?:19|20)\d\d|'?\d\d)(?![\d:]))?|(?<=[a-z])(?![a-z0-9]))")
MONTH_WORDS = re.compile(
    rf"(?P<m>{_MONTH})(?![a-z])\.?(?:,?[ \t]*(?P<d>\d{{1,2}})(?P<o>{_ORD})?(?![\d:/a-z]|\.\d)"
    rf"(?:,?[ \t]*(?P<y>{_YEAR})(?![\d:]))?|,?[ \t]+(?:of[ \t]+)?(?P<y2>{_YEAR})(?![\d:]))?")
YEARS = re.compile(r"\d(?<![\w.,/$#:+'>~@-]\d)(?:(?P<y>(?<=1)9\d\d|(?<=2)0\d\d)(?P<s>'?s)?(?![\w/%:]|[.,]\d|-\d)"
                   r"|(?P<yb>\d)'(?![\w']))")
PROCEDURE_YEARS = re.compile(r"\d(?<![\w/.,:#+'-]\d)\d(?=[ \t]+[a-z])")
COMPACT = re.compile(r"\d(?<![\w/.,:#+$-]\d)\d{5}(?:\d\d)?(?![\w/-]|[.,]\d)")
APOSTROPHE_YEARS = re.compile(r"'(?<![\w']')\d\d(?![\w']|[.,]\d)")
_CLOCK_AFTER = re.compile(r"(?:[ \t]+|t)(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\d:])")
_YEAR_BEFORE = re.compile(r"(?:19|20)\d\d[ \t]*(?:,|and|&|/|;)[ \t]*$")


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _word_end(match: re.Match[str]) -> int:
    """The end of a textual date; a full stop after an unabbreviated month name ends the sentence, not the date."""
    end = match.end()
    month = match.groupdict().get("m")
    if month and match.end("m") == end - 1 and (len(month) > 4 or month in ("may", "june", "july")):
        return end - 1
    return end


class DateRecognizer(Recognizer):
    """Finds dates and date parts (``DATE``); every span's ``source`` names the rule that found it."""

    name: ClassVar[str] = "dates"
    types: ClassVar[tuple[str, ...]] = ("DATE",)

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path
        self._lex: DateLexicon | None = None
        self._holidays: re.Pattern[str] | None = None

    def load(self) -> None:
        """Read the word lists and compile the holiday regex once."""
        if self._lex is not None:
            return
        lex = load_lexicon(self.path)
        self._holidays = word_regex(lex.holidays)
        self._lex = lex

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        """Date spans of ``doc``."""
        self.load()
        assert self._lex is not None
        ctx = DateContext(lower_view(doc.text), self._lex)
        spans: list[PhiSpan] = []
        for finder in (self._numeric, self._compact, self._words, self._years):
            spans.extend(finder(ctx))
        return spans

    # --- numbers with separators -----------------------------------------------------------------------------

    def _numeric(self, ctx: DateContext) -> list[PhiSpan]:
        spans = []
        for match in NUMERIC.finditer(ctx.text):
            scored = self._score_numeric(ctx, match)
            if scored is not None:
                clock = _CLOCK_AFTER.match(ctx.text, match.end()) if scored[1] == "date_ymd" else None
                end = clock.end() if clock else match.end()
                spans.append(PhiSpan(match.start(), end, "DATE", scored[0], scored[1]))
        return spans

    def _compact(self, ctx: DateContext) -> list[PhiSpan]:
        return [PhiSpan(m.start(), m.end(), "DATE", 0.6, "date_compact") for m in COMPACT.finditer(ctx.text)
                if self._compact_date(ctx, m)]

    def _compact_date(self, ctx: DateContext, match: re.Match[str]) -> bool:
        """``MMDDYY`` (month with a leading zero, or after a date cue), ``MMDDYYYY`` or ``YYYYMMDD``."""
        digits = match.group()
        if len(digits) == 8:
            orders = ((digits[:4], digits[4:6], digits[6:]), (digits[4:], digits[:2], digits[2:4]))
            ok = any(1900 <= int(y) <= 2099 and _valid(int(m), int(d)) for y, m, d in orders)
        else:
            cued = digits[0] == "0" or ctx.last_word(match.start()) in ctx.lex.date_cues
            ok = cued and _valid(int(digits[:2]), int(digits[2:4]))
        return ok and not self._negative(ctx, match)

    def _score_numeric(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        a, sep, b, c = match.group("a", "sep", "b", "c")
        if c is not None:
            return self._full_date(ctx, match, a, b, c, sep)
        if sep == "." or len(a) > 2:
            return None
        month, second = int(a), int(b)
        if sep == "-":
            return self._hyphen_month_day(ctx, match, month, second)
        if len(b) == 4:
            return (0.9, "date_month_year") if 1 <= month <= 12 and 1900 <= second <= 2099 else None
        if not 1 <= month <= 12 or self._negative(ctx, match):
            return None
        if len(b) == 2 and (second > 31 or b.startswith("0")):
            return 0.7, "date_month_year"
        if second < 1 or second > 31:
            return None
        return self._month_day(ctx, match, month, second)

    def _full_date(self, ctx: DateContext, match: re.Match[str], a: str, b: str, c: str,
                   sep: str) -> tuple[float, str] | None:
        if len(a) == 4:
            ok = 1900 <= int(a) <= 2099 and _valid(int(b), int(c)) and len(c) <= 2
            return (0.95, "date_ymd") if ok else None
        if len(c) == 3 or not _valid(int(a), int(b)) or (len(c) == 4 and not 1900 <= int(c) <= 2099):
            return None
        if sep == "." and len(c) != 4:
            return None
        if len(c) == 2 and self._negative(ctx, match):
            return None
        return 0.95, "date_mdy"

    def _negative(self, ctx: DateContext, match: re.Match[str]) -> bool:
        start, end = match.span()
        return ctx.quantity_after(end) or ctx.measured(start) or ctx.range_before(start)

    def _strong(self, ctx: DateContext, match: re.Match[str]) -> bool:
        start, end = match.span()
        return (ctx.last_word(start) in ctx.lex.date_cues or ctx.line_start(start) or ctx.time_after(end)
                or ctx.date_before(start))

    def _month_day(self, ctx: DateContext, match: re.Match[str], month: int, day: int) -> tuple[float, str] | None:
        start, end = match.span()
        if day == 10 and ctx.pain_score(start, end):
            return None
        if month < day <= 4 or (month == day and month <= 5):
            before = ctx.words_before(start, 2)
            last, prev = (["", ""] + before)[-1], (["", ""] + before)[-2]
            cued = last in ctx.lex.date_cues and (last not in _WEAK_CUES or prev in ctx.lex.date_cues)
            return (0.8, "date_month_day") if cued or ctx.time_after(end) else None
        return (0.9 if self._strong(ctx, match) else 0.6), "date_month_day"

    def _hyphen_month_day(self, ctx: DateContext, match: re.Match[str], month: int,
                          day: int) -> tuple[float, str] | None:
        start, end = match.span()
        following = ctx.next_word(end)
        last = ctx.last_word(start)
        if not _valid(month, day) or last not in ctx.lex.date_cues or last in _APPROXIMATE:
            return None
        if ctx.quantity_after(end) or len(following) <= 2 and following.isalpha():
            return None
        if len(following) > 3 and following.endswith("s"):
            return None
        if ctx.text[end:end + 2].strip().startswith(("-", "/")) or ctx.measured(start):
            return None
        return 0.5, "date_month_day_hyphen"

    # --- month names, ordinals, holidays ----------------------------------------------------------------------

    def _words(self, ctx: DateContext) -> list[PhiSpan]:
        assert self._holidays is not None
        found: list[tuple[re.Match[str], tuple[float, str] | None]] = []
        found += [(m, self._day_words(ctx, m)) for m in DAY_WORDS.finditer(ctx.text)]
        found += [(m, self._month_words(ctx, m)) for m in MONTH_WORDS.finditer(ctx.text)
                  if not ctx.text[m.start() - 1:m.start()].isalnum()]
        if any(holiday in ctx.text for holiday in ctx.lex.holidays):
            found += [(m, (0.6, "date_holiday")) for m in self._holidays.finditer(ctx.text)]
        return [PhiSpan(m.start(), _word_end(m), "DATE", scored[0], scored[1]) for m, scored in found if scored]

    def _day_words(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        if not 1 <= int(match.group("d")) <= 31:
            return None
        if match.group("m") is None:
            return self._ordinal(ctx, match)
        marked = any(match.group(g) for g in ("o", "of", "h", "y"))
        if not marked and match.group("m") in _AMBIGUOUS_MONTHS:
            return None
        return 0.9, "date_day_month"

    def _month_words(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        if match.group("d") is not None:
            return self._month_then_day(ctx, match)
        if match.group("y2") is not None:
            return 0.9, "date_month_year"
        return self._month_alone(ctx, match)

    def _month_then_day(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        if not 1 <= int(match.group("d")) <= 31:
            return None
        if match.group("y"):
            return 0.95, "date_month_day_year"
        bare = match.group("o") is None and match.group("m") in _AMBIGUOUS_MONTHS
        if bare and (ctx.quantity_after(match.end()) or ctx.next_word(match.end()) in ("l", "x")):
            return None
        return 0.9, "date_month_day"

    def _ordinal(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        words = ctx.words_before(match.start(), 2)
        after_the = bool(words) and words[-1] == "the"
        if after_the:
            words = words[:-1]
        if not words or words[-1] not in ctx.lex.date_cues:
            return None
        if not after_the and ctx.next_word(match.end()) not in ("", "%", "+", "#"):
            return None
        if ctx.next_word(match.end()) in ctx.lex.not_ordinal_nouns:
            return None
        return 0.7, "date_ordinal"

    def _month_alone(self, ctx: DateContext, match: re.Match[str]) -> tuple[float, str] | None:
        month = match.group("m")
        last = ctx.last_word(match.start())
        if month in _FULL_MONTHS or last in ctx.lex.date_cues or last in ctx.lex.year_cues:
            return 0.6, "date_month"
        return None

    # --- years ------------------------------------------------------------------------------------------------

    def _years(self, ctx: DateContext) -> list[PhiSpan]:
        spans: list[PhiSpan] = []
        for match in YEARS.finditer(ctx.text):
            score = self._score_year(ctx, match)
            if score is not None:
                spans.append(PhiSpan(match.start(), match.end(), "DATE", score, "date_year"))
        for match in PROCEDURE_YEARS.finditer(ctx.text):
            if ctx.next_word(match.end()) in ctx.lex.procedure_words and self._year_slot(ctx, match.start()):
                spans.append(PhiSpan(match.start(), match.end(), "DATE", 0.6, "date_year"))
        for match in APOSTROPHE_YEARS.finditer(ctx.text):
            if not ctx.quantity_after(match.end()) and not ctx.measured(match.start()):
                spans.append(PhiSpan(match.start(), match.end(), "DATE", 0.7, "date_year"))
        return spans

    @staticmethod
    def _year_slot(ctx: DateContext, start: int) -> bool:
        """True where a two-digit year may stand: a clause start (``PMH: 09 CABG``) or after a year cue."""
        return ctx.clause_start(start) or ctx.last_word(start) in ctx.lex.year_cues

    def _score_year(self, ctx: DateContext, match: re.Match[str]) -> float | None:
        start, end = match.span()
        if ctx.quantity_after(end) or ctx.next_word(end) in _HOUR_WORDS:
            return None
        last = ctx.last_word(start)
        cue = last in ctx.lex.year_cues or last in ctx.lex.date_cues or last == "("
        if match.group("yb") is not None:
            return 0.6 if cue or last in _MONTH_WORDS else None
        return self._four_digit_year(ctx, match, last, cue)

    def _four_digit_year(self, ctx: DateContext, match: re.Match[str], last: str, cue: bool) -> float | None:
        start, end = match.span()
        value = ctx.text[start:start + 4]
        if match.group("s"):
            return 0.8
        if last == "in" and ctx.next_word(end) == "out":
            return None
        time_like = int(value[2:]) < 60
        if cue or _YEAR_BEFORE.search(ctx.text, max(0, start - 12), start):
            if time_like and last in _TIME_PREPS and value[2:] in ctx.lex.round_minutes:
                return None
            return 0.85
        if last in ctx.lex.time_cues or last in ctx.lex.measure_words:
            return None
        return None if time_like else 0.6
