"""Clinical sentence splitting with rules kept as data (``resources/rules/sentences.json``).

Rules, applied to the ``normalized`` view:

* sentences never cross a section boundary, and a section's header (up to ``header_end``)
  is skipped: the section's sentences start after it;
* a line break ends a sentence when either line is blank, when the next line opens a list
  item (``-``, ``*``, ``+``, ``•``, ``1.``, ``2)``, ``a)``) or a ``Label:`` line, or when the
  next line starts with a capital or digit and the current line is short
  (``short_line_chars``), ends with ``:``, or stopped although the next word would have fit
  within the block's widest line (so it was not wrapped);
* ``.``, ``?`` or ``!`` (plus closing quotes/brackets) followed by whitespace and a capital
  or digit ends a sentence, except after a listed abbreviation (``Dr.``, ``e.g.``, ``b.i.d.``),
  after an ``abbreviations_before_number`` entry followed by a number (``No. 2``), after a
  single capital initial (``J.``), and after a list number opening a line (``1.``);
  decimals (``2.5 mg``) never split because no whitespace follows the point.

Sentence spans are trimmed of surrounding whitespace; spans without a letter or digit are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.rules import check_fields, load_json_rules
from carelm.core.types import Note, Span
from carelm.extract.sections import SECTIONS

SENTENCES = "sentences"
_FIELDS = {
    "version": int,
    "abbreviations": list,
    "abbreviations_before_number": list,
    "single_initials": bool,
    "short_line_chars": int,
}
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+\u2022\u00b7]|\d{1,3}[.)]|\(?[a-zA-Z]\))[ \t]")
_LABEL_LINE = re.compile(r"[ \t]*[A-Z][A-Za-z0-9 /()%-]{0,30}:(?:[ \t]|$)")
_OPENS_CAPITAL = re.compile(r"[ \t]*[\"'(\[]*[A-Z0-9]")
_END = re.compile(r"[.?!]+[\"')\]]*(?=\s+[\"'(\[]*[A-Z0-9])")
_INITIAL = re.compile(r"[A-Z]\.")
_LIST_NUMBER = re.compile(r"\d{1,3}\.")
_HAS_WORD = re.compile(r"\w")
_NUMBER_NEXT = re.compile(r"\s*\d")


@dataclass(frozen=True, slots=True)
class SentenceRules:
    """Validated sentence rules."""

    abbreviations: frozenset[str]
    before_number: frozenset[str]
    single_initials: bool = True
    short_line_chars: int = 40


def parse_sentence_rules(data: Any, where: str) -> SentenceRules:
    """Validate the sentence rules object; unknown keys and wrong types raise ConfigError."""
    check_fields(data, _FIELDS, {"version", "abbreviations"}, where)
    lists = {}
    for key in ("abbreviations", "abbreviations_before_number"):
        values = data.get(key, [])
        if not all(isinstance(v, str) and v.endswith(".") and " " not in v for v in values):
            raise ConfigError(f"key {key!r} must list strings ending in '.' without spaces", location=where)
        lists[key] = frozenset(v.lower() for v in values)
    return SentenceRules(
        abbreviations=lists["abbreviations"],
        before_number=lists["abbreviations_before_number"],
        single_initials=data.get("single_initials", True),
        short_line_chars=data.get("short_line_chars", 40),
    )


def _regions(text: str, sections: list[Span]) -> Iterator[tuple[int, int, str | None]]:
    """Pieces of text that sentences stay inside: the preamble, then each section after its header."""
    if not sections:
        yield 0, len(text), None
        return
    yield 0, sections[0].start, None
    for span in sections:
        yield span.attributes.get("header_end", span.start), span.end, span.label


@register_stage
class SentenceSplitter(Stage):
    """Writes the ``sentences`` layer: rule-based clinical sentences tagged with their section."""

    name: ClassVar[str] = "carelm.sentences.v1"
    reads: ClassVar[tuple[str, ...]] = ("normalized", SECTIONS)
    writes: ClassVar[tuple[str, ...]] = (SENTENCES,)

    def __init__(self, rules_path: str | None = None) -> None:
        super().__init__()
        if rules_path is not None and not isinstance(rules_path, str):
            raise ConfigError("parameter 'rules_path' must be a string path", location=self.name)
        self.rules_path = rules_path
        self._rules: SentenceRules | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"rules_path": self.rules_path} if self.rules_path is not None else {}

    def warm_up(self) -> None:
        """Load and validate the rules file."""
        data, where = load_json_rules("rules", "sentences.json", self.rules_path)
        self._rules = parse_sentence_rules(data, where)
        super().warm_up()

    def split(self, text: str, sections: list[Span]) -> list[Span]:
        """Sentence spans of ``text`` (a normalized view) given its section spans."""
        if self._rules is None:
            self.warm_up()
        spans: list[Span] = []
        for start, end, section in _regions(text, sections):
            breaks = sorted({start, end, *self._line_breaks(text, start, end), *self._stops(text, start, end)})
            for left, right in pairwise(breaks):
                chunk = text[left:right]
                if _HAS_WORD.search(chunk):
                    first = left + len(chunk) - len(chunk.lstrip())
                    last = right - (len(chunk) - len(chunk.rstrip()))
                    spans.append(Span(first, last, "sentence", {"section": section}, stage=self.name))
        return spans

    def _line_breaks(self, text: str, start: int, end: int) -> Iterator[int]:
        lines = text[start:end].split("\n")
        columns = [len(line.rstrip()) for line in lines]
        columns[0] += start - (text.rfind("\n", 0, start) + 1)
        width = max(columns)
        offset = start
        for index, (current, following) in enumerate(pairwise(lines)):
            offset += len(current)
            if self._breaks_between(current, following, columns[index], width):
                yield offset
            offset += 1

    def _breaks_between(self, current: str, following: str, column: int, width: int) -> bool:
        """Whether the line break between ``current`` and ``following`` ends a sentence."""
        assert self._rules is not None
        here, there = current.strip(), following.strip()
        if not here or not there or _LIST_ITEM.match(following) or _LABEL_LINE.match(following):
            return True
        if not _OPENS_CAPITAL.match(following):
            return False
        fits = column + 1 + len(there.split()[0]) <= width
        return len(here) < self._rules.short_line_chars or here.endswith(":") or fits

    def _stops(self, text: str, start: int, end: int) -> Iterator[int]:
        for match in _END.finditer(text, start, end):
            if match.group().startswith(".") and not match.group().startswith(".."):
                if self._keeps_going(text, start, match.start() + 1, match.end()):
                    continue
            yield match.end()

    def _keeps_going(self, text: str, start: int, dot_end: int, stop: int) -> bool:
        """Whether the period ending at ``dot_end`` belongs to an abbreviation, an initial or a list number."""
        assert self._rules is not None
        token_start = dot_end - 1
        while token_start > start and not text[token_start - 1].isspace():
            token_start -= 1
        token = text[token_start:dot_end].lstrip("\"'([")
        lower = token.lower()
        if lower in self._rules.abbreviations:
            return True
        if lower in self._rules.before_number and _NUMBER_NEXT.match(text, stop):
            return True
        if self._rules.single_initials and _INITIAL.fullmatch(token):
            return True
        line_start = text.rfind("\n", 0, token_start) + 1
        return bool(_LIST_NUMBER.fullmatch(token)) and not text[line_start:token_start].strip()

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.layers[SENTENCES] = self.split(note.views["normalized"], note.layers.get(SECTIONS, []))
        return notes
