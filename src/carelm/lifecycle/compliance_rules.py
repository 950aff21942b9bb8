"""Rules of the data-quality checks, kept as data (``resources/rules/compliance.json``).

``completeness`` maps a note kind to the sections it must have: each entry of ``required`` is a section
name, or a list of names any one of which will do.  Section names are the canonical names of
``rules/sections.json``.  ``consistency`` names the sections and structured item kinds that state
allergies and current medications, and the item statuses that are not current.  ``duplicates`` sets
the shingle length (words), the near-duplicate similarity threshold and the shortest text compared.
Unknown keys, wrong types and unknown section names are a ConfigError naming the place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.core.rules import check_fields, load_json_rules

RULES_FILE = "compliance.json"
_TOP = {"version": int, "completeness": dict, "consistency": dict, "duplicates": dict}
_CONSISTENCY = {"allergy_sections": list, "medication_sections": list, "allergy_item_kinds": list,
                "medication_item_kinds": list, "inactive_statuses": list}
_DUPLICATES = {"shingle_words": int, "near_threshold": (int, float), "min_words": int}


@dataclass(frozen=True, slots=True)
class ComplianceRules:
    """Validated rules; ``required`` maps a note kind to groups of alternative section names."""

    required: dict[str, tuple[tuple[str, ...], ...]]
    allergy_sections: frozenset[str]
    medication_sections: frozenset[str]
    allergy_item_kinds: frozenset[str]
    medication_item_kinds: frozenset[str]
    inactive_statuses: frozenset[str]
    shingle_words: int
    near_threshold: float
    min_words: int
    source: str


def load_rules(path: str | Path | None = None) -> ComplianceRules:
    """The shipped rules, or the user's file at ``path``."""
    data, where = load_json_rules("rules", RULES_FILE, path)
    check_fields(data, _TOP, set(_TOP), where)
    sections = _section_names()
    required = {}
    for kind, entry in data["completeness"].items():
        place = f"{where}#completeness.{kind}"
        check_fields(entry, {"required": list}, {"required"}, place)
        required[kind] = tuple(_group(item, sections, place) for item in entry["required"])
    consistency = data["consistency"]
    check_fields(consistency, _CONSISTENCY, set(_CONSISTENCY), f"{where}#consistency")
    for key in ("allergy_sections", "medication_sections"):
        for name in consistency[key]:
            _check_section(name, sections, f"{where}#consistency.{key}")
    duplicates = data["duplicates"]
    check_fields(duplicates, _DUPLICATES, set(_DUPLICATES), f"{where}#duplicates")
    if not 1 <= duplicates["shingle_words"] <= 20 or not 0 < duplicates["near_threshold"] <= 1:
        raise ConfigError("shingle_words must be 1 to 20 and near_threshold in (0, 1]", location=f"{where}#duplicates")
    return ComplianceRules(
        required=required,
        **{key: frozenset(_strings(consistency[key], f"{where}#consistency.{key}")) for key in _CONSISTENCY},
        shingle_words=duplicates["shingle_words"], near_threshold=float(duplicates["near_threshold"]),
        min_words=max(duplicates["min_words"], duplicates["shingle_words"]), source=where,
    )


def _group(item: Any, sections: set[str], where: str) -> tuple[str, ...]:
    names = [item] if isinstance(item, str) else item
    if not isinstance(names, list) or not names:
        raise ConfigError("a required entry is a section name or a non-empty list of alternatives", location=where)
    for name in names:
        _check_section(name, sections, where)
    return tuple(names)


def _check_section(name: Any, sections: set[str], where: str) -> None:
    if not isinstance(name, str) or name not in sections:
        shown = name if isinstance(name, str) else type(name).__name__
        raise ConfigError(f"unknown section {shown!r}; accepted: the names in rules/sections.json, e.g. "
                          f"{', '.join(sorted(sections)[:6])}", location=where)


def _strings(values: list[Any], where: str) -> list[str]:
    if not all(isinstance(value, str) and value for value in values):
        raise ConfigError("expected a list of non-empty strings", location=where)
    return [value.lower() for value in values]


def _section_names() -> set[str]:
    data, _ = load_json_rules("rules", "sections.json")
    return {entry["name"] for entry in data["sections"]}
