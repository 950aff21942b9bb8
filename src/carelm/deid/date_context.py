"""Word lists and context tests that tell a date from a dose, a score, a time or a ventilator setting.

The lists are data (``resources/deid/dates.json``); :class:`DateContext` reads the words around a
candidate in the lower-cased note.  Context never leaves this module as text: callers get booleans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from carelm.core.errors import ConfigError
from carelm.core.rules import load_json_rules

_LISTS = ("date_cues", "year_cues", "time_cues", "round_minutes", "measure_words", "setting_words", "pain_words",
          "after_words", "not_ordinal_nouns", "procedure_words", "holidays")

_WORD = re.compile(r"->|[a-z][a-z0-9/'.-]*|\d+|[@#~+(]")
_CLAUSE_END = re.compile(r"[;!?\n]|\.(?=\s)")
_NEXT_WORD = re.compile(r"[ \t]*([%+#]|[a-z][a-z0-9/'-]*)")
_TIME_AFTER = re.compile(
    r"[ \t]*(?:(?:@|at)[ \t]*)?(?:(?:[01]\d|2[0-3])[0-5]\d(?![\d/.])|\d{1,2}:\d\d)"
    r"|[ \t]*(?:\d{1,2}[ \t]*)?(?:a\.?m\b|p\.?m\b)"
    r"|[ \t]*(?:morning|evening|afternoon|night|overnight|noc|eves?)\b"
    r"|[ \t]*[,-]?[ \t]*(?:19|20)\d\d(?!\d)")
_DATE_BEFORE = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?[ \t]*(?:-|to|or|and|,|&|thru|through|until|vs\.?)[ \t]*$")
_RANGE_BEFORE = re.compile(r"\d-$")
_DATE_RANGE_BEFORE = re.compile(r"\d/\d{1,2}-$")
_WINDOW = 40


@dataclass(frozen=True, slots=True)
class DateLexicon:
    """The word lists of ``dates.json`` as sets of lower-case words."""

    date_cues: frozenset[str]
    year_cues: frozenset[str]
    time_cues: frozenset[str]
    round_minutes: frozenset[str]
    measure_words: frozenset[str]
    setting_words: frozenset[str]
    pain_words: frozenset[str]
    after_words: frozenset[str]
    not_ordinal_nouns: frozenset[str]
    procedure_words: frozenset[str]
    holidays: tuple[str, ...]


def load_lexicon(path: str | Path | None = None) -> DateLexicon:
    """Read and validate ``dates.json`` (the packaged one unless ``path`` is given)."""
    data, where = load_json_rules("deid", "dates.json", path)
    if not isinstance(data, dict):
        raise ConfigError("expected a JSON object", location=where)
    accepted = ("version", *_LISTS)
    for key, value in data.items():
        if key not in accepted:
            raise ConfigError(f"unknown key {key!r}; accepted keys: {', '.join(accepted)}", location=where)
        if key != "version" and not (isinstance(value, list) and all(isinstance(w, str) and w for w in value)):
            raise ConfigError(f"key {key!r} must be a list of non-empty strings", location=where)
    if data.get("version") != 1:
        raise ConfigError("unsupported or missing version; supported: 1", location=where)
    words = {key: frozenset(w.lower() for w in data.get(key, [])) for key in _LISTS if key != "holidays"}
    holidays = tuple(" ".join(w.lower().split()) for w in data.get("holidays", []))
    return DateLexicon(holidays=holidays, **words)


def _parts(word: str) -> tuple[str, ...]:
    """A word and its pieces: ``simv/ps`` -> simv, ps; ``bi-pap`` -> bipap, bi, pap."""
    if "/" not in word and "-" not in word:
        return (word,)
    return (word, word.replace("-", ""), *re.split(r"[/-]", word))


class DateContext:
    """Questions about the words around offsets of one lower-cased note."""

    def __init__(self, lowered: str, lexicon: DateLexicon):
        self.text = lowered
        self.lex = lexicon

    def words_before(self, start: int, count: int = 3) -> list[str]:
        """Up to ``count`` words before ``start`` in the same clause, nearest last."""
        window = self.text[max(0, start - _WINDOW):start]
        cuts = [m.end() for m in _CLAUSE_END.finditer(window)]
        if cuts:
            window = window[cuts[-1]:]
        return [w.rstrip(".-") for w in _WORD.findall(window)][-count:]

    def last_word(self, start: int) -> str:
        """The word right before ``start`` in the same clause, or ''."""
        words = self.words_before(start, 1)
        return words[0] if words else ""

    def next_word(self, end: int) -> str:
        """The word (or one of ``% + #``) right after ``end`` on the same line, or ''."""
        match = _NEXT_WORD.match(self.text, end)
        return match.group(1) if match else ""

    def line_start(self, start: int) -> bool:
        """True when only blanks or bullets come before ``start`` on its line."""
        line = self.text[self.text.rfind("\n", 0, start) + 1:start]
        return not line.strip(" \t*->#")

    def time_after(self, end: int) -> bool:
        """True when a time of day, a part of the day or a year follows ``end``."""
        return _TIME_AFTER.match(self.text, end) is not None

    def date_before(self, start: int) -> bool:
        """True when another month/day date and a joining word come right before ``start``."""
        return _DATE_BEFORE.search(self.text, max(0, start - 20), start) is not None

    def quantity_after(self, end: int) -> bool:
        """True when a unit, a setting or a score word follows ``end``."""
        word = self.next_word(end)
        return word in self.lex.after_words or any(part in self.lex.after_words for part in word.split("/"))

    def measured(self, start: int) -> bool:
        """True when a measurement word comes right before ``start``, or a setting or score word comes shortly
        before it or before other numbers (``PS 10/5``, ``SIMV, 500x10, 40%, 5/8``), and no date cue right before."""
        words = self.words_before(start, 6)
        if not words or words[-1] in self.lex.date_cues:
            return False
        if self.text[start - 1:start] in ("#", "+"):
            return True
        if words[-1] in self.lex.measure_words and not self.glued(start):
            return True
        for back, word in enumerate(reversed(words)):
            if any(part in self.lex.setting_words for part in _parts(word)):
                return back < 2 or any(w[0].isdigit() for w in words[len(words) - back:])
        return False

    def glued(self, start: int) -> bool:
        """True when a hyphen joins ``start`` to the word before it (``uo-9/10``): a note, not a reading."""
        return self.text[start - 1:start] == "-" and self.text[start - 2:start - 1].isalpha()

    def clause_start(self, start: int) -> bool:
        """True when only blanks come between ``start`` and the line start or a mark ending a clause or label."""
        head = self.text[max(0, start - 12):start].rstrip(" \t")
        return not head or head[-1] in ".,;:(\n"

    def pain_score(self, start: int, end: int) -> bool:
        """True when a pain word comes shortly before ``start`` or right after ``end`` (for ``x/10``)."""
        return (self.next_word(end) in self.lex.pain_words
                or any(word in self.lex.pain_words for word in self.words_before(start, 4)))

    def range_before(self, start: int) -> bool:
        """True when ``start`` is the second number of a range such as ``3-4/10`` (not a date range)."""
        head = self.text[max(0, start - 8):start]
        return _RANGE_BEFORE.search(head) is not None and _DATE_RANGE_BEFORE.search(head) is None
