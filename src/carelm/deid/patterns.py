"""Pattern recognizers: PHI with a recognisable shape (phones, ids, e-mail, addresses, ages over 89 ...).

The rules are data, ``resources/deid/patterns.json``: a list of objects with the keys ``name``,
``type`` (a label of :data:`carelm.deid.base.PHI_TYPES`), ``regex``, ``score`` (0..1) and optionally
``context`` (words), ``flags`` (names of :mod:`re` flags such as ``"IGNORECASE"``), ``requires``
(strings, one of which a note must contain, in lower case, for the rule to run at all) and ``check``
(the name of a checksum the PHI part must pass: ``"luhn"`` for card numbers, ``"iban"`` for IBANs).

* Without ``context`` the regex is searched over the whole note.  Such a regex should begin with a
  character or a character class, not a lookbehind: the regex engine then skips ahead to candidate
  characters quickly (``\\d(?<![\\w.]\\d)`` is "a digit that starts a number").
* With ``context`` the regex is matched right after each occurrence of one of the context words
  (case-insensitive, whole words), so it spells out what may come between the word and the PHI.

A regex marks the PHI part with the named group ``phi``; without it the whole match is PHI.
Shared pieces are written ``{{NAME}}`` (see :data:`FRAGMENTS`).  Dates are handled in
:mod:`carelm.deid.dates`, which needs code as well as patterns; :mod:`carelm.deid.address_blocks` grows
street addresses over the place lines that follow them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.rules import check_fields, load_json_rules, trie_regex
from carelm.deid.address_blocks import extend_addresses
from carelm.deid.base import PHI_TYPES, DeidDoc, PhiSpan, Recognizer

_UNIT = r"(?:mg|mcg|g|kg|ml|cc|l|lpm|units?|u|meq|mmol|mmhg|cm|mm|%|hrs?|mins?|x)(?![a-z])"

#: Regex pieces that patterns refer to as ``{{NAME}}``.
FRAGMENTS = {
    "PHONE": r"(?:(?:\+?1[ \t.-]?)?(?:\([2-9]\d\d\)[ \t]?|[2-9]\d\d[ \t]?[-./][ \t]?|[2-9]\d\d[ \t])"
             r"\d{3}[ \t]?[-.][ \t]?\d{4}|[2-9]\d\d/\d{3}/\d{4})",
    "GAP": r"[ \t]*(?:number|num|no\.?|#|id)?[ \t]*(?:is[ \t]+)?[:#=.-]?[ \t]*\n?[ \t]*#?[ \t]*",
    "PGAP": r"[ \t]*(?:#|no\.?|number|num)?[ \t]*(?:(?:me[ \t]+)?(?:is|at|on)[ \t]+)?[:#=-]?[ \t]*\n?[ \t]*#?[ \t]*",
    "ID": r"(?P<phi>(?=[A-Za-z0-9-]*\d)(?!\d+(?:\.\d+)?[ \t]*{{UNIT}})[A-Za-z0-9][A-Za-z0-9-]{2,24}[A-Za-z0-9])"
          r"(?![\w-]|[.,]\d)",
    "INTL": r"(?:\+[ \t]?)?(?:\(\d{1,4}\)[ \t]?)?\d{1,5}"
            r"(?:(?:[ \t]?[.-][ \t]?|[ \t])(?:\(\d{1,4}\)[ \t]?)?\d{1,6}){1,5}"
            r"(?:[ \t]*(?:x|ext\.?|extension)[ \t]*\d{1,5})?(?![\w/]|[.,-]\d)",
    "STREET": r"(?P<phi>\d{1,6}[ \t]+(?:\d{1,4}[ \t]+)?(?![a-z])(?:(?:[^\W\d_]{1,3}\.?[ \t]+)?"
              r"(?!(?i:and|or|at|to|the|of|in|on|out|with|for|from|then|again|x)\b)(?=[^\W\d_]*[^\W\d_A-Z])"
              r"[^\W\d_][\w'.-]*[ \t]+){1,4}\d{1,5}[A-Za-z]?\b\.?{{NOUNIT}}(?![/:]|[.,]\d)"
              r"(?:,?[ \t]*\n?[ \t>?]*(?:Apt\.?|Suite|Flat|Apartment)[ \t]+#?\d{1,5}\b)*)",
    "POSTCODE": r"(?-i:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)",
    "UNIT": _UNIT,
    "NOUNIT": r"(?![ \t]*{{UNIT}})",
}

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL, "ASCII": re.ASCII,
          "VERBOSE": re.VERBOSE}
_FIELDS: dict[str, tuple[type, ...]] = {"name": (str,), "type": (str,), "regex": (str,), "score": (int, float),
                                        "context": (list,), "flags": (list,), "requires": (list,), "check": (str,)}
_REQUIRED = {"name", "type", "regex", "score"}
_FRAGMENT_REF = re.compile(r"\{\{([A-Z_]+)\}\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def luhn_ok(value: str) -> bool:
    """True when the digits of ``value`` (12 to 19 of them) pass the Luhn checksum of card numbers."""
    digits = [int(c) for c in value if c.isdigit()]
    if not 12 <= len(digits) <= 19:
        return False
    total = sum(digits[-1::-2]) + sum(d * 2 - 9 if d > 4 else d * 2 for d in digits[-2::-2])
    return total % 10 == 0


def iban_ok(value: str) -> bool:
    """True when ``value`` (blanks allowed) is an IBAN whose check digits pass the ISO 13616 mod-97 test."""
    code = "".join(value.split()).upper()
    if not 15 <= len(code) <= 34 or not code.isalnum():
        return False
    moved = code[4:] + code[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def phone_ok(value: str) -> bool:
    """True when ``value`` has 7 to 15 digits and is not a list of four-digit times or a dotted/dashed date."""
    groups = re.findall(r"\d+", value.split("x")[0].split("X")[0])
    digits = sum(len(group) for group in groups)
    if not 7 <= digits <= 15:
        return False
    if len(groups) > 1 and all(len(group) == 4 for group in groups):
        return False
    return [len(group) for group in groups] not in ([2, 2, 4], [4, 2, 2], [1, 2, 4], [2, 1, 4], [1, 1, 4])


CHECKS = {"luhn": luhn_ok, "iban": iban_ok, "phone": phone_ok}


@dataclass(frozen=True, slots=True)
class PatternRule:
    """One compiled rule of ``patterns.json``."""

    name: str
    type: str
    regex: re.Pattern[str]
    score: float
    context: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    check: Callable[[str], bool] | None = None

    def span_of(self, match: re.Match[str]) -> tuple[int, int]:
        """The PHI part of a match: the ``phi`` group when the regex has one, else the whole match."""
        return match.span("phi") if "phi" in self.regex.groupindex else match.span()

    def accepts(self, match: re.Match[str]) -> bool:
        """True unless the rule has a checksum that the PHI part fails."""
        if self.check is None:
            return True
        start, end = self.span_of(match)
        return self.check(match.string[start:end])


def expand_fragments(regex: str, where: str) -> str:
    """Replace every ``{{NAME}}`` by its fragment (fragments may refer to others)."""
    for _ in range(5):
        if "{{" not in regex:
            return regex
        try:
            regex = _FRAGMENT_REF.sub(lambda m: FRAGMENTS[m.group(1)], regex)
        except KeyError as exc:
            raise ConfigError(f"unknown fragment {exc.args[0]!r}; known: {', '.join(FRAGMENTS)}",
                              location=where) from None
    raise ConfigError("fragments nest too deeply", location=where)


def _check_entry(entry: Any, where: str) -> None:
    check_fields(entry, _FIELDS, _REQUIRED, where)
    if not _NAME.match(entry["name"]):
        raise ConfigError("key 'name' must be a lower_snake_case identifier", location=where)
    if entry["type"] not in PHI_TYPES:
        raise ConfigError(f"unknown PHI type {entry['type']!r}", location=where)
    if not 0.0 <= entry["score"] <= 1.0:
        raise ConfigError("key 'score' must lie in [0, 1]", location=where)
    for key in ("context", "requires"):
        if not all(isinstance(word, str) and word.strip() for word in entry.get(key, [])):
            raise ConfigError(f"key {key!r} must be a list of non-empty strings", location=where)
    if entry.get("check", "luhn") not in CHECKS:
        raise ConfigError(f"unknown check {entry['check']!r}; accepted: {', '.join(CHECKS)}", location=where)
    unknown = [flag for flag in entry.get("flags", []) if flag not in _FLAGS]
    if unknown:
        raise ConfigError(f"unknown flags {unknown}; accepted: {', '.join(_FLAGS)}", location=where)


def parse_rule(entry: Any, where: str) -> PatternRule:
    """Validate one ``patterns.json`` entry and compile it."""
    _check_entry(entry, where)
    flags = 0
    for flag in entry.get("flags", []):
        flags |= _FLAGS[flag]
    try:
        regex = re.compile(expand_fragments(entry["regex"], where), flags)
    except re.error as exc:
        raise ConfigError(f"invalid regex: {exc.msg}", location=where) from None
    context = tuple(" ".join(word.lower().split()) for word in entry.get("context", []))
    requires = tuple(word.lower() for word in entry.get("requires", []))
    check = CHECKS[entry["check"]] if "check" in entry else None
    return PatternRule(entry["name"], entry["type"], regex, float(entry["score"]), context, requires, check)


def load_rules(path: str | Path | None = None) -> list[PatternRule]:
    """Read and compile the pattern rules: the packaged ``patterns.json`` unless ``path`` is given."""
    data, where = load_json_rules("deid", "patterns.json", path)
    if not isinstance(data, list):
        raise ConfigError("expected a JSON list of patterns", location=where)
    rules = [parse_rule(entry, f"{where}#{index}") for index, entry in enumerate(data)]
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ConfigError("pattern names must be unique", location=where)
    return rules


def word_regex(words: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """One regex finding any of ``words`` in lower-case text: whole words, any run of blanks between parts.

    Where one word is a prefix of another the longest is found (the regex is greedy).  No words: matches nothing."""
    if not words:
        return re.compile(r"(?!)")
    return re.compile(rf"(?<![a-z0-9]){trie_regex(sorted(set(words)))}(?![a-z0-9])")


def lower_view(text: str) -> str:
    """The text in lower case with the same offsets (characters whose lower case is longer are kept)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class PatternRecognizer(Recognizer):
    """Finds PHI with the rules of ``patterns.json``."""

    name: ClassVar[str] = "patterns"
    types: ClassVar[tuple[str, ...]] = ("PHONE", "FAX", "EMAIL", "URL", "IP", "SSN", "AGE", "ADDRESS", "ZIP",
                                        "MRN", "ACCOUNT", "HEALTH_PLAN", "LICENSE", "ID", "DEVICE", "VEHICLE")

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path
        self._free: list[PatternRule] = []
        self._by_word: dict[str, list[PatternRule]] = {}
        self._words: re.Pattern[str] | None = None

    def load(self) -> None:
        """Read and compile the rules once."""
        if self._words is not None:
            return
        rules = load_rules(self.path)
        by_word: dict[str, list[PatternRule]] = defaultdict(list)
        for rule in rules:
            for word in rule.context:
                by_word[word].append(rule)
        self._free = [rule for rule in rules if not rule.context]
        self._by_word = dict(by_word)
        self._words = word_regex(list(by_word))

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        """Spans matched by the rules in ``doc``."""
        self.load()
        assert self._words is not None
        text = doc.text
        lowered = lower_view(text)
        spans = [self._span(rule, match) for rule in self._free
                 if not rule.requires or any(word in lowered for word in rule.requires)
                 for match in rule.regex.finditer(text) if rule.accepts(match)]
        for hit in self._words.finditer(lowered):
            for rule in self._by_word[" ".join(hit.group().split())]:
                match = rule.regex.match(text, hit.end())
                if match is not None and rule.accepts(match):
                    spans.append(self._span(rule, match))
        return extend_addresses(text, [span for span in spans if span.end > span.start])

    @staticmethod
    def _span(rule: PatternRule, match: re.Match[str]) -> PhiSpan:
        start, end = rule.span_of(match)
        return PhiSpan(start, end, rule.type, rule.score, rule.name)


def recognizers() -> list[Recognizer]:
    """The pattern-based recognizers of the default engine."""
    from carelm.deid.dates import DateRecognizer

    return [PatternRecognizer(), DateRecognizer()]
