"""Section detection from header rules kept as data (``resources/rules/sections.json``).

A header counts when it starts a line (after optional indentation, a bullet, ``#`` or an
item number such as ``1.``), matches a known header case-insensitively, and is either
followed by ``:`` or, written in capitals and at least ``bare_header_min_length`` long,
fills the rest of the line alone.  So ``"Plan: continue"`` opening a line is a header,
while ``"... stable. Plan: continue"`` inside a line is not.

Each ``sections`` span runs from its header to the next header (or the end of the text);
text before the first header gets no span.  Attributes: ``header_end`` (offset after the
colon, or after a bare header) and ``header`` (the header as written; headers are not PHI).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.rules import check_fields, load_json_rules
from carelm.core.types import Note, Span

SECTIONS = "sections"
_LEAD = r"^(?P<lead>[ \t]*(?:(?:[-*#\u2022]+|\d{1,2}[.)])[ \t]*)?)"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_FIELDS = {"version": int, "sections": list, "bare_header_min_length": int}
_SECTION_FIELDS = {"name": str, "headers": list}


def header_key(header: str) -> str:
    """Canonical spelling of a header for lookups: lower case, single spaces, no spaces around '/'."""
    return re.sub(r" ?/ ?", "/", " ".join(header.lower().split()))


def _header_pattern(key: str) -> str:
    pieces = (r"[ \t]+".join(re.escape(word) for word in piece.split(" ")) for piece in key.split("/"))
    return r"[ \t]*/[ \t]*".join(pieces)


def parse_section_rules(data: Any, where: str) -> tuple[dict[str, str], int]:
    """Validate section rules; returns a map header key -> canonical name, and the bare header minimum length."""
    check_fields(data, _TOP_FIELDS, {"version", "sections"}, where)
    headers: dict[str, str] = {}
    for index, entry in enumerate(data["sections"]):
        place = f"{where}#sections[{index}]"
        check_fields(entry, _SECTION_FIELDS, set(_SECTION_FIELDS), place)
        if not _NAME.match(entry["name"]):
            raise ConfigError("key 'name' must be a lower_snake_case identifier", location=place)
        if not entry["headers"] or not all(isinstance(h, str) and h.strip() for h in entry["headers"]):
            raise ConfigError("key 'headers' must be a non-empty list of non-empty strings", location=place)
        for header in entry["headers"]:
            key = header_key(header)
            if headers.get(key, entry["name"]) != entry["name"]:
                raise ConfigError(f"header {header!r} is also listed under {headers[key]!r}", location=place)
            headers[key] = entry["name"]
    return headers, data.get("bare_header_min_length", 3)


def section_at(sections: list[Span], offset: int) -> str | None:
    """The canonical name of the section containing ``offset``, or None (sections sorted, not overlapping)."""
    index = bisect_right(sections, offset, key=lambda span: span.start) - 1
    if index >= 0 and sections[index].start <= offset < sections[index].end:
        return sections[index].label
    return None


@register_stage
class SectionDetector(Stage):
    """Writes the ``sections`` layer: one span per recognised section header, labelled with its canonical name."""

    name: ClassVar[str] = "carelm.sections.v1"
    reads: ClassVar[tuple[str, ...]] = ("normalized",)
    writes: ClassVar[tuple[str, ...]] = (SECTIONS,)

    def __init__(self, rules_path: str | None = None) -> None:
        super().__init__()
        if rules_path is not None and not isinstance(rules_path, str):
            raise ConfigError("parameter 'rules_path' must be a string path", location=self.name)
        self.rules_path = rules_path
        self._regex: re.Pattern[str] | None = None
        self._headers: dict[str, str] = {}
        self._bare_min = 3

    @property
    def params(self) -> dict[str, Any]:
        return {"rules_path": self.rules_path} if self.rules_path is not None else {}

    def warm_up(self) -> None:
        """Load and validate the rules, then compile one regex with the longest headers first."""
        data, where = load_json_rules("rules", "sections.json", self.rules_path)
        self._headers, self._bare_min = parse_section_rules(data, where)
        alternatives = "|".join(_header_pattern(key) for key in sorted(self._headers, key=lambda k: (-len(k), k)))
        pattern = rf"{_LEAD}(?P<header>{alternatives})(?:(?P<colon>[ \t]*:)|[ \t]*$)"
        self._regex = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
        super().warm_up()

    def find(self, text: str) -> list[Span]:
        """Section spans of ``text`` (a normalized view)."""
        if self._regex is None:
            self.warm_up()
        assert self._regex is not None
        found: list[tuple[int, int, int, str]] = []
        for match in self._regex.finditer(text):
            header = match.group("header")
            if match.group("colon") is None and not (header.isupper() and len(header_key(header)) >= self._bare_min):
                continue
            header_end = match.end() if match.group("colon") else match.end("header")
            found.append((match.start(), match.start("header"), header_end, header))
        spans = []
        for index, (_, start, header_end, header) in enumerate(found):
            end = found[index + 1][0] if index + 1 < len(found) else len(text)
            label = self._headers[header_key(header)]
            attributes = {"header_end": header_end, "header": header}
            spans.append(Span(start, end, label, attributes, stage=self.name))
        return spans

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.layers[SECTIONS] = self.find(note.views["normalized"])
        return notes
