"""Summary evidence read from whole sections rather than single mentions.

* Allergies: each sentence (or line) of an allergies section is an allergy unless a dictionary drug mention
  in it already names the allergen; ``NKDA``, ``no known allergies`` or a bare ``none`` is a denied allergy.
  Reaction words (``rash``) in that section are not allergens and are not read as findings either.
* Vital signs and laboratory results: the section is one ``findings`` item, cited whole from its header (a
  vital-signs section up to its first line of values), at most ``MAX_SECTION`` characters.
"""

from __future__ import annotations

import re

from carelm.core.types import Span
from carelm.generate.summary_model import Occurrence, SourceNote, date_of, term_key
from carelm.generate.summary_spans import ViewMap, trimmed

MEASUREMENT_SECTIONS = {"vitals": "vital signs", "labs": "laboratory results"}
MAX_SECTION = 600
NO_ALLERGY = re.compile(r"\b(?:NKDA|NKA|no known (?:drug )?allerg(?:y|ies))\b|^\s*none(?: known)?\b", re.IGNORECASE)
NO_ALLERGY_TERM = "no known allergies"
NO_ALLERGY_ALIASES = ["NKDA", "NKA", "no known drug allergies", "no known drug allergy", "no known allergy",
                      "none", "none known"]


def section_occurrences(note: SourceNote, view_map: ViewMap, order: int) -> list[Occurrence]:
    """The allergy and measurement occurrences of one note."""
    found: list[Occurrence] = []
    for section in note.layers.get("sections", []):
        if section.label == "allergies":
            found += _allergies(note, view_map, section, order)
        elif section.label in MEASUREMENT_SECTIONS:
            found += _measurement(note, view_map, section, order)
    return found


def _section_lines(note: SourceNote, view_map: ViewMap, section: Span) -> list[tuple[int, int, int, int]]:
    """``(raw start, raw end, view start, view end)`` of each sentence of the section body (else each line)."""
    body = int(section.attributes.get("header_end", section.start))
    inside = [(s.start, s.end) for s in note.layers.get("sentences", []) if body <= s.start and s.end <= section.end]
    if inside:
        return [(start, end, *view_map.span(start, end)) for start, end in inside]
    low, high = view_map.span(body, section.end)
    lines, position = [], low
    for line in note.text[low:high].split("\n"):
        if line.strip():
            lines.append((-1, -1, position, position + len(line)))
        position += len(line) + 1
    return lines


def _allergies(note: SourceNote, view_map: ViewMap, section: Span, order: int) -> list[Occurrence]:
    drugs = [m for m in note.layers.get("mentions", []) if m.label == "DRUG" and not m.attributes.get("negated")]
    found = []
    for raw_start, raw_end, low, high in _section_lines(note, view_map, section):
        cited = trimmed(note, low, high, section="allergies")
        if not cited.quote:
            continue
        denial = NO_ALLERGY.search(cited.quote)
        if denial is not None:
            start = cited.start + denial.start() + (len(denial.group()) - len(denial.group().lstrip()))
            cited = trimmed(note, start, cited.start + denial.end(), status="negated", section="allergies")
            found.append(Occurrence("allergies", (f"term:{NO_ALLERGY_TERM}",), NO_ALLERGY_TERM, "negated", [cited],
                                    order, date_of(note), note.id, aliases=list(NO_ALLERGY_ALIASES)))
        elif raw_start < 0 or not any(raw_start <= m.start and m.end <= raw_end for m in drugs):
            term = " ".join(cited.quote.split()).rstrip(".;,")
            cited = trimmed(note, cited.start, cited.end, status="present", section="allergies")
            found.append(Occurrence("allergies", (f"term:{term_key(term)}",), term, "present", [cited], order,
                                    date_of(note), note.id))
    return found


def _measurement(note: SourceNote, view_map: ViewMap, section: Span, order: int) -> list[Occurrence]:
    low, high = view_map.span(section.start, section.end)
    body = view_map.position(int(section.attributes.get("header_end", section.start)), is_end=False)
    if section.label == "vitals":  # the first line of values; later lines are often the examination
        first = next((i for i in range(body, high) if not note.text[i].isspace()), high)
        line_end = note.text.find("\n", first, high)
        high = line_end if line_end >= 0 else high
    if high - low > MAX_SECTION:
        cut = note.text.rfind("\n", low, low + MAX_SECTION)
        high = cut if cut > low else low + MAX_SECTION
    cited = trimmed(note, low, high, status="present", section=section.label)
    header = str(section.attributes.get("header") or "")
    values = cited.quote[len(header):].lstrip(" :\t\r\n") if cited.quote.startswith(header) else cited.quote
    if not header or not any(ch.isdigit() for ch in values):
        return []
    name = MEASUREMENT_SECTIONS[section.label]
    return [Occurrence("findings", (f"measurement:{section.label}",), name, "present", [cited], order,
                       date_of(note), note.id, value=" ".join(values.split()), aliases=[header])]
