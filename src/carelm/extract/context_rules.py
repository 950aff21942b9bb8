"""ConText trigger rules kept as data (``resources/rules/context.json``), validated and compiled.

The file holds ``version`` (1), ``default_max_scope`` (tokens), ``section_categories`` (canonical
section name -> categories every mention in that section gets) and ``rules``.  Each rule has a
``phrase``, a ``category`` (see ``CATEGORIES``), a ``direction`` (``forward``, ``backward`` or
``bidirectional``), an optional ``max_scope`` in tokens and an optional ``terminates`` list: the
categories whose scopes the phrase ends (every category for ``TERMINATE`` rules when left out,
none for other rules).  All phrases compile into one case-insensitive regex that finds the longest phrase
at a place, bounded by non-word characters, with any run of whitespace matching a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from carelm.core.errors import ConfigError
from carelm.core.rules import check_fields, load_json_rules, trie_regex

NEGATED = "NEGATED_EXISTENCE"
POSSIBLE = "POSSIBLE_EXISTENCE"
HISTORICAL = "HISTORICAL"
HYPOTHETICAL = "HYPOTHETICAL"
FAMILY = "FAMILY"
PSEUDO = "PSEUDO"
TERMINATE = "TERMINATE"

#: Categories that set an attribute on the mentions in their scope, with that attribute's name.
ATTRIBUTES = {NEGATED: "negated", POSSIBLE: "uncertain", HISTORICAL: "historical", HYPOTHETICAL: "hypothetical",
              FAMILY: "family"}
CATEGORIES = frozenset(ATTRIBUTES) | {PSEUDO, TERMINATE}
DIRECTIONS = frozenset({"forward", "backward", "bidirectional"})

_TOP_FIELDS = {"version": int, "default_max_scope": int, "section_categories": dict, "rules": list}
_RULE_FIELDS = {"phrase": str, "category": str, "direction": str, "max_scope": int, "terminates": list}


@dataclass(frozen=True, slots=True)
class ContextRule:
    """One trigger, pseudo-trigger or terminator phrase."""

    phrase: str
    category: str
    direction: str
    max_scope: int
    terminates: frozenset[str]


@dataclass(frozen=True, slots=True)
class ContextRules:
    """Validated rules plus the one regex that finds all their phrases."""

    rules: dict[str, ContextRule]
    regex: re.Pattern[str]
    section_categories: dict[str, frozenset[str]]

    def rule_for(self, matched: str) -> ContextRule:
        """The rule whose phrase produced the regex match ``matched``."""
        return self.rules[phrase_key(matched)]


def phrase_key(phrase: str) -> str:
    """Canonical spelling of a phrase for lookups: lower case, single spaces."""
    return " ".join(phrase.lower().split())


def _categories(values: Any, place: str, key: str, allowed: frozenset[str]) -> frozenset[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v in allowed for v in values):
        raise ConfigError(f"key {key!r} must list categories among {sorted(allowed)}", location=place)
    return frozenset(values)


def _parse_rule(entry: Any, place: str, default_scope: int) -> ContextRule:
    check_fields(entry, _RULE_FIELDS, {"phrase", "category", "direction"}, place)
    phrase, category, direction = phrase_key(entry["phrase"]), entry["category"], entry["direction"]
    if not phrase:
        raise ConfigError("key 'phrase' must not be empty", location=place)
    if category not in CATEGORIES:
        raise ConfigError(f"unknown category {category!r}; accepted: {sorted(CATEGORIES)}", location=place)
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction {direction!r}; accepted: {sorted(DIRECTIONS)}", location=place)
    max_scope = entry.get("max_scope", default_scope)
    if max_scope < 1:
        raise ConfigError("key 'max_scope' must be at least 1", location=place)
    default_ends = sorted(ATTRIBUTES) if category == TERMINATE else []
    terminates = _categories(entry.get("terminates", default_ends), place, "terminates", frozenset(ATTRIBUTES))
    return ContextRule(phrase, category, direction, max_scope, terminates)


def parse_context_rules(data: Any, where: str) -> ContextRules:
    """Validate the rules object and compile its regex; unknown keys, bad values and duplicates raise ConfigError."""
    check_fields(data, _TOP_FIELDS, {"version", "rules"}, where)
    default_scope = data.get("default_max_scope", 8)
    if default_scope < 1:
        raise ConfigError("key 'default_max_scope' must be at least 1", location=where)
    sections = {
        name: _categories(values, f"{where}#section_categories", name, frozenset(ATTRIBUTES))
        for name, values in data.get("section_categories", {}).items()
    }
    rules: dict[str, ContextRule] = {}
    for index, entry in enumerate(data["rules"]):
        place = f"{where}#rules[{index}]"
        rule = _parse_rule(entry, place, default_scope)
        if rule.phrase in rules:
            raise ConfigError(f"phrase {rule.phrase!r} is listed twice", location=place)
        rules[rule.phrase] = rule
    if not rules:
        raise ConfigError("key 'rules' must not be empty", location=where)
    # A trie of the phrases: at each place the longest phrase that fits wins, as in an alternation of the phrases
    # longest first, but the regex engine does not try every phrase at every character (ten times faster).
    regex = re.compile(rf"(?<!\w)(?:{trie_regex(sorted(rules))})(?!\w)", re.IGNORECASE)
    return ContextRules(rules, regex, sections)


def load_context_rules(path: str | None = None) -> ContextRules:
    """Load and compile the shipped rules, or the user's rules file at ``path``."""
    data, where = load_json_rules("rules", "context.json", path)
    return parse_context_rules(data, where)
