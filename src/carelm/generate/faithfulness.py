"""Citation faithfulness: does each citation resolve to stored data, and does it hold the claimed fact?

For every summary item (and timeline entry) and every citation:

* *resolves*: a span citation's ``quote`` equals ``text[start:end]`` of the stored note's cited view (its
  de-identified text, or its raw text for a note without one); a field citation's ``value`` equals the
  stored field.
* *contains the fact*: a span's quote contains one of the item's names (its term, its aliases, or a
  terminology name of one of its concepts), compared as folded, singular word sequences; every number of the
  item's value appears in one of its quotes; a field citation of a ``display`` holds the item's term (or the
  timeline entry's label), one of ``value`` holds its value, one of a date holds the entry's date.

Answers (``carelm.core.types.Answer``) are checked the same way: each records-scope citation must resolve,
and each number of the answer text must appear in one of its quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from carelm.core.types import Answer
from carelm.generate.summary import term_key
from carelm.generate.summary_model import AnyCitation, FieldCitation, PatientSummary, SpanCitation, SummaryItem

NUMBER = re.compile(r"\d+(?:\.\d+)?")
Fact = Callable[[AnyCitation], "bool | None"]  # does a (resolved) citation hold the claim; None: nothing to check


class StoredText(Protocol):
    """Reads what citations point at (the service layer implements it over the store)."""

    def note_text(self, note_id: str, view: str) -> str | None: ...

    def field_value(self, table: str, row_id: str, field: str) -> str | None: ...


@dataclass
class FaithfulnessReport:
    """Counts over items and citations, and each failure named by ids only."""

    items_checked: int = 0
    items_cited: int = 0  # items with at least one citation that resolves
    citations: int = 0
    resolved: int = 0
    facts_checked: int = 0  # resolved citations whose fact could be checked
    facts_contained: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def _pct(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 2) if whole else 100.0

    def to_dict(self) -> dict[str, Any]:
        return {"items_checked": self.items_checked, "items_cited_pct": self._pct(self.items_cited, self.items_checked),
                "citations": self.citations, "resolved_pct": self._pct(self.resolved, self.citations),
                "facts_contained_pct": self._pct(self.facts_contained, self.facts_checked),
                "failures": self.failures}

    def merge(self, other: FaithfulnessReport) -> None:
        for name in ("items_checked", "items_cited", "citations", "resolved", "facts_checked", "facts_contained"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures


@lru_cache(maxsize=1)
def terminology_names() -> dict[str, tuple[str, ...]]:
    """Concept -> every name the shipped terminology gives it (terms and canonical names)."""
    from carelm.extract.terms import load_terminology

    names: dict[str, set[str]] = {}
    for entry in load_terminology():
        bucket = names.setdefault(str(entry["concept"]), set())
        bucket.add(entry["term"])
        if entry.get("canonical"):
            bucket.add(entry["canonical"])
    return {concept: tuple(sorted(found)) for concept, found in names.items()}


def contains_name(quote: str, names: Iterable[str]) -> bool:
    """Whether ``quote`` holds one of ``names`` as a whole word sequence (folded, singular)."""
    text = f" {term_key(quote)} "
    return any(key and f" {key} " in text for key in (term_key(name) for name in names))


def item_names(item: SummaryItem, concept_names: dict[str, tuple[str, ...]]) -> list[str]:
    names = [item.term, *item.aliases]
    for concept in item.concepts:
        names += concept_names.get(concept, ())
    return names


def check_summary(summary: PatientSummary, stored: StoredText,
                  concept_names: dict[str, tuple[str, ...]] | None = None) -> FaithfulnessReport:
    """Resolve and check every citation of every item and timeline entry of ``summary``."""
    concept_names = terminology_names() if concept_names is None else concept_names
    report = FaithfulnessReport()
    for item in summary.items():
        names = item_names(item, concept_names)
        held = [c.quote if isinstance(c, SpanCitation) else c.value for c in item.citations]
        missing = [n for n in NUMBER.findall(item.value or "") if not any(n in NUMBER.findall(h) for h in held)]
        if missing:
            report.failures.append({"item": item.id, "problem": "a number of the value is in no citation"})
        _check_item(report, item.id, item.citations, stored, _item_fact(names, item.value))
    for entry in summary.timeline:
        _check_item(report, entry.id, entry.citations, stored, _entry_fact(entry.date))
    return report


def _item_fact(names: list[str], value: str | None) -> Fact:
    def fact(citation: AnyCitation) -> bool | None:
        if isinstance(citation, SpanCitation):
            return contains_name(citation.quote, names)
        if citation.field == "display":
            return contains_name(citation.value, names)
        if citation.field == "value":
            return value is not None and citation.value in value
        return None
    return fact


def _entry_fact(date: str | None) -> Fact:
    def fact(citation: AnyCitation) -> bool | None:
        if isinstance(citation, FieldCitation) and citation.field in ("effective", "authored_at"):
            return date is not None and citation.value.startswith(date)
        return None
    return fact


def _check_item(report: FaithfulnessReport, item_id: str, citations: list[AnyCitation], stored: StoredText,
                fact: Fact) -> None:
    report.items_checked += 1
    any_resolved = False
    for number, citation in enumerate(citations):
        report.citations += 1
        where = {"item": item_id, "citation": number}
        if not _resolves(citation, stored):
            report.failures.append({**where, "problem": "does not resolve to the stored data"})
            continue
        report.resolved += 1
        any_resolved = True
        contained = fact(citation)
        if contained is None:
            continue
        report.facts_checked += 1
        if contained:
            report.facts_contained += 1
        else:
            report.failures.append({**where, "problem": "the cited text does not hold the claimed fact"})
    report.items_cited += any_resolved
    if not citations:
        report.failures.append({"item": item_id, "problem": "no citation"})


def _resolves(citation: AnyCitation, stored: StoredText) -> bool:
    if isinstance(citation, SpanCitation):
        text = stored.note_text(citation.note_id, citation.view)
        return text is not None and 0 <= citation.start <= citation.end <= len(text) \
            and text[citation.start:citation.end] == citation.quote
    value = stored.field_value(citation.table, citation.row_id, citation.field)
    return value is not None and value == citation.value


def check_answer(answer: Answer, stored: StoredText, answer_id: str = "answer") -> FaithfulnessReport:
    """Resolve an answer's records citations; every number of its text must appear in one of its quotes."""
    report = FaithfulnessReport(items_checked=1)
    quotes = []
    for number, citation in enumerate(answer.citations):
        if citation.scope != "records":
            continue
        report.citations += 1
        text = stored.note_text(citation.document_id, "deid")
        if text is not None and text[citation.start:citation.end] == citation.quote:
            report.resolved += 1
            quotes.append(citation.quote)
        else:
            report.failures.append({"item": answer_id, "citation": number, "problem": "does not resolve"})
    report.items_cited = int(bool(quotes))
    for value in dict.fromkeys(NUMBER.findall(answer.text)):
        report.facts_checked += 1
        if any(value in NUMBER.findall(q) for q in quotes):
            report.facts_contained += 1
        else:
            report.failures.append({"item": answer_id, "problem": "a number of the answer is in no quote"})
    return report
