"""ConText-style assertion: negation, uncertainty, temporality and experiencer of mentions.

Within each sentence, one regex finds every trigger, pseudo-trigger and terminator
(``resources/rules/context.json``, see ``carelm.extract.context_rules``); matching is leftmost
and longest first, so a pseudo-trigger (``no increase``) consumes the trigger it overlaps.
A trigger's scope runs forward and/or backward to the sentence edge, the nearest terminator
of its category, or ``max_scope`` tokens, whichever comes first.  A target whose text falls
in a scope gets the trigger's category.  Sections add categories too (``section_categories`` in
the rules: ``family_history`` -> family; ``pmh``, ``psh`` and ``social_history`` -> historical).

Attributes set on each target: ``negated``, ``uncertain``, ``historical``, ``hypothetical``,
``family`` (booleans) and ``section`` (canonical section name or None).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.types import Note, Span
from carelm.extract.context_rules import ATTRIBUTES, PSEUDO, TERMINATE, ContextRule, ContextRules, load_context_rules
from carelm.extract.sections import SECTIONS, section_at
from carelm.extract.sentences import SENTENCES

MENTIONS = "mentions"
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _Scope:
    """The character range ``[start, end)`` a trigger of ``category`` covers, besides the trigger itself."""

    category: str
    forward: bool
    trigger_start: int
    trigger_end: int
    start: int
    end: int

    def covers(self, start: int, end: int) -> bool:
        """Whether a target ``[start, end)`` lies in the scope (a target may begin with the trigger itself)."""
        if self.forward:
            return start >= self.trigger_start and end > self.trigger_end and start < self.end
        return end <= self.trigger_end and start < self.trigger_start and end > self.start


@lru_cache(maxsize=1)
def default_rules() -> ContextRules:
    """The shipped rules, loaded and compiled once."""
    return load_context_rules()


def _sentence_scopes(text: str, start: int, end: int, rules: ContextRules) -> list[_Scope]:
    """Scopes of all triggers of the sentence ``text[start:end]``: one regex pass, one token pass."""
    found = [(m.start(), m.end(), rules.rule_for(m.group())) for m in rules.regex.finditer(text, start, end)]
    triggers = [item for item in found if item[2].category not in (PSEUDO, TERMINATE)]
    if not triggers:
        return []
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text, start, end)]
    starts = [token[0] for token in tokens]
    stops = [(s, e, rule.terminates) for s, e, rule in found if rule.terminates]
    scopes = []
    for t_start, t_end, rule in triggers:
        limits = [(s, e) for s, e, ends in stops if rule.category in ends and (s, e) != (t_start, t_end)]
        if rule.direction != "backward":
            scopes.append(_forward(rule, t_start, t_end, end, limits, tokens, starts))
        if rule.direction != "forward":
            scopes.append(_backward(rule, t_start, t_end, start, limits, tokens, starts))
    return scopes


def _forward(rule: ContextRule, t_start: int, t_end: int, edge: int, limits: list[tuple[int, int]],
             tokens: list[tuple[int, int]], starts: list[int]) -> _Scope:
    stop = min([edge, *(s for s, _ in limits if s >= t_end)])
    last = bisect_left(starts, t_end) + rule.max_scope - 1
    if last < len(tokens):
        stop = min(stop, tokens[last][1])
    return _Scope(rule.category, True, t_start, t_end, t_end, stop)


def _backward(rule: ContextRule, t_start: int, t_end: int, edge: int, limits: list[tuple[int, int]],
              tokens: list[tuple[int, int]], starts: list[int]) -> _Scope:
    begin = max([edge, *(e for _, e in limits if e <= t_start)])
    first = bisect_left(starts, t_start) - rule.max_scope
    if first >= 0:
        begin = max(begin, tokens[first][0])
    return _Scope(rule.category, False, t_start, t_end, begin, t_start)


def _blank(section: str | None, rules: ContextRules) -> dict[str, Any]:
    extra = rules.section_categories.get(section or "", frozenset())
    result: dict[str, Any] = {name: category in extra for category, name in ATTRIBUTES.items()}
    result["section"] = section
    return result


def _sentence_of(sentences: Sequence[Span], starts: list[int], start: int, end: int, text: str) -> tuple[int, int]:
    index = bisect_right(starts, start) - 1
    if index >= 0 and sentences[index].start <= start and end <= sentences[index].end:
        return sentences[index].start, sentences[index].end
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end < 0 else line_end


def assert_spans(text: str, sentences: Sequence[Span], sections: Sequence[Span],
                 targets: Iterable[tuple[int, int]], rules: ContextRules | None = None) -> list[dict[str, Any]]:
    """Assertion attributes of each target ``(start, end)`` of ``text``, in order.

    ``sentences`` and ``sections`` are spans sorted by start; a target outside every sentence is
    judged within its line.  Each sentence is scanned once, however many targets it holds.
    """
    rules = rules or default_rules()
    ordered = sorted(sentences, key=lambda span: span.start)
    starts = [span.start for span in ordered]
    ordered_sections = sorted(sections, key=lambda span: span.start)
    cache: dict[tuple[int, int], list[_Scope]] = {}
    results = []
    for start, end in targets:
        bounds = _sentence_of(ordered, starts, start, end, text)
        if bounds not in cache:
            cache[bounds] = _sentence_scopes(text, bounds[0], bounds[1], rules)
        result = _blank(section_at(ordered_sections, start), rules)
        for scope in cache[bounds]:
            if scope.covers(start, end):
                result[ATTRIBUTES[scope.category]] = True
        results.append(result)
    return results


@register_stage
class ContextAssertion(Stage):
    """Sets assertion attributes (negated, uncertain, historical, hypothetical, family, section) on ``mentions``."""

    name: ClassVar[str] = "carelm.context.v1"
    reads: ClassVar[tuple[str, ...]] = ("normalized", SECTIONS, SENTENCES, MENTIONS)
    writes: ClassVar[tuple[str, ...]] = (MENTIONS,)

    def __init__(self, rules_path: str | None = None) -> None:
        super().__init__()
        if rules_path is not None and not isinstance(rules_path, str):
            raise ConfigError("parameter 'rules_path' must be a string path", location=self.name)
        self.rules_path = rules_path
        self._rules: ContextRules | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"rules_path": self.rules_path} if self.rules_path is not None else {}

    def warm_up(self) -> None:
        """Load, validate and compile the trigger rules."""
        self._rules = default_rules() if self.rules_path is None else load_context_rules(self.rules_path)
        super().warm_up()

    def annotate(self, note: Note) -> list[Span]:
        """New mention spans of ``note`` carrying the assertion attributes; the note's own spans stay untouched."""
        if self._rules is None:
            self.warm_up()
        mentions = note.layer(MENTIONS)
        targets = [(span.start, span.end) for span in mentions]
        found = assert_spans(note.views["normalized"], note.layer(SENTENCES), note.layer(SECTIONS), targets,
                             self._rules)
        pairs = zip(mentions, found, strict=True)
        return [Span(m.start, m.end, m.label, {**m.attributes, **attrs}, m.stage) for m, attrs in pairs]

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.layers[MENTIONS] = self.annotate(note)
        return notes
