"""Report drafts (discharge summary, referral letter) filled from a patient summary by data templates.

A template (``resources/templates/<kind>.json``) has a ``title``, an ``opening`` and a ``closing`` (which may
name ``{patient_id}``, ``{notes}``, ``{record_items}`` and nothing else) and ``sections``.  Each section takes
the summary items of some ``items`` categories (or ``timeline``) whose status is in ``statuses``, at most
``limit`` of them, optionally only those cited in the most recent note (``latest_note``) or not already used
by earlier sections (``exclude_sections``), and writes one statement per item with its ``line`` pattern.
A statement carries the item's citations; a section with no item says ``empty``.  Unknown keys and unknown
placeholders are rejected when the template is loaded.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError, InputError
from carelm.generate.summary_model import CATEGORIES, STATUSES, AnyCitation, PatientSummary, SpanCitation
from carelm.generate.summary_render import CitationIndex, codes_text, describe

REPORT_KINDS = ("discharge", "referral")
TEMPLATE_KEYS = {"version", "kind", "title", "opening", "closing", "sections"}
SECTION_KEYS = {"id", "heading", "items", "statuses", "line", "empty", "limit", "latest_note", "exclude_sections"}
LINE_FIELDS = {"term", "status", "codes", "quote", "value", "unit", "date", "first_date", "label", "context"}
DOCUMENT_FIELDS = {"patient_id", "notes", "record_items"}
CITED_PER_STATEMENT = 3
_CONTEXT = {"family_history": "family history", "historical": "past history"}


@dataclass(slots=True)
class Statement:
    """One filled line of a report and the citations it rests on."""

    text: str
    citations: list[AnyCitation]
    item_id: str


@dataclass(slots=True)
class ReportSection:
    id: str
    heading: str
    statements: list[Statement]
    empty: str
    template_text: str = ""  # the filled statements with citation markers, one per line
    text: str = ""  # what the report shows: the template text, or an accepted polished text
    polish: dict[str, Any] | None = None  # {status, reasons} when polishing was asked for


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    patient_id: str
    opening: str
    closing: str
    sections: list[ReportSection] = field(default_factory=list)
    index: CitationIndex = field(default_factory=CitationIndex)

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", self.opening, ""]
        for section in self.sections:
            lines += [f"## {section.heading}", section.text]
            if section.polish and section.polish["status"] != "accepted":
                lines.append(f"_(template text kept: {'; '.join(section.polish['reasons'])})_")
            lines.append("")
        lines += [self.closing, "", "## Sources", *self.index.sources(), ""]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "title": self.title, "patient_id": self.patient_id,
            "sections": [{"id": s.id, "heading": s.heading, "text": s.text, "template_text": s.template_text,
                          "polish": s.polish,
                          "statements": [{"text": st.text, "item_id": st.item_id,
                                          "markers": [self.index.number(c) for c in st.citations]}
                                         for st in s.statements]} for s in self.sections],
            "sources": [{"marker": n, "citation": c.to_dict(), "text": describe(c)}
                        for c, n in self.index.numbers.items()],
            "text": self.markdown(),
        }


def load_template(kind: str, path: str | Path | None = None) -> dict[str, Any]:
    """The shipped template of ``kind`` (or the JSON file ``path``), checked."""
    if path is None and kind not in REPORT_KINDS:
        raise InputError(f"unknown report {kind!r}; accepted: {', '.join(REPORT_KINDS)}", location="report")
    where = str(path) if path is not None else f"carelm/resources/templates/{kind}.json"
    try:
        source: Any = Path(path) if path is not None else resources.files("carelm").joinpath(
            "resources", "templates", f"{kind}.json")
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read report template ({type(exc).__name__})", location=where) from None
    check_template(data, where)
    return data


def check_template(data: Any, where: str) -> None:
    """Reject a template with a missing or unknown key, category, status or placeholder."""
    if not isinstance(data, dict) or not TEMPLATE_KEYS - {"version"} <= set(data):
        raise ConfigError(f"a template needs {sorted(TEMPLATE_KEYS - {'version'})}", location=where)
    _no_unknown(set(data) - TEMPLATE_KEYS, TEMPLATE_KEYS, where)
    for key in ("opening", "closing"):
        _placeholders(data[key], DOCUMENT_FIELDS, f"{where}#{key}")
    for number, section in enumerate(data["sections"]):
        at = f"{where}#sections[{number}]"
        if not isinstance(section, dict) or not {"id", "heading", "items", "line", "empty"} <= set(section):
            raise ConfigError("a section needs id, heading, items, line and empty", location=at)
        _no_unknown(set(section) - SECTION_KEYS, SECTION_KEYS, at)
        _no_unknown(set(section["items"]) - {*CATEGORIES, "timeline"}, {*CATEGORIES, "timeline"}, f"{at}.items")
        _no_unknown(set(section.get("statuses", [])) - set(STATUSES), set(STATUSES), f"{at}.statuses")
        _placeholders(section["line"], LINE_FIELDS, f"{at}.line")


def _no_unknown(unknown: set[str], accepted: set[str], where: str) -> None:
    if unknown:
        raise ConfigError(f"unknown {sorted(unknown)}; accepted: {sorted(accepted)}", location=where)


def _placeholders(text: str, accepted: set[str], where: str) -> None:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    _no_unknown(names - accepted, accepted, where)


def draft_report(summary: PatientSummary, kind: str, template: dict[str, Any] | None = None) -> Report:
    """The report ``kind`` filled from ``summary``: every statement carries its item's (latest) citations."""
    template = template or load_template(kind)
    counts = {"patient_id": summary.patient_id, "notes": summary.notes, "record_items": summary.record_items}
    report = Report(kind, template["title"], summary.patient_id, template["opening"].format(**counts),
                    template["closing"].format(**counts))
    used: dict[str, set[str]] = {}
    for spec in template["sections"]:
        statements = _statements(summary, spec, used)
        used[spec["id"]] = {s.item_id for s in statements}
        section = ReportSection(spec["id"], spec["heading"], statements, spec["empty"])
        lines = [f"- {s.text} {report.index.markers(s.citations)}" for s in statements]
        section.template_text = section.text = "\n".join(lines) if lines else spec["empty"]
        report.sections.append(section)
    return report


def _statements(summary: PatientSummary, spec: dict[str, Any], used: dict[str, set[str]]) -> list[Statement]:
    excluded = set().union(*(used.get(name, set()) for name in spec.get("exclude_sections", [])))
    if spec["items"] == ["timeline"]:
        return [Statement(spec["line"].format_map(_Fields(date=e.date or "undated", label=e.label)),
                          e.citations[-CITED_PER_STATEMENT:], e.id) for e in summary.timeline][: spec.get("limit")]
    latest = _latest_note(summary) if spec.get("latest_note") else None
    statements = []
    for category in spec["items"]:
        for item in getattr(summary, category):
            if item.status not in spec.get("statuses", STATUSES) or item.id in excluded:
                continue
            if latest is not None and not any(getattr(c, "note_id", None) == latest for c in item.citations):
                continue
            spans = [c for c in item.citations if isinstance(c, SpanCitation)]
            quote = " ".join(spans[-1].quote.split()) if spans else " ".join(
                filter(None, (item.term, item.value, item.unit)))
            fields = _Fields(term=item.term, status=item.status, codes=codes_text(item), quote=quote,
                             value=item.value or "", unit=item.unit or "", date=item.last_date or "",
                             first_date=item.first_date or "",
                             context=_CONTEXT.get(category) or _CONTEXT.get(item.status) or item.status)
            statements.append(Statement(spec["line"].format_map(fields), item.citations[-CITED_PER_STATEMENT:],
                                        item.id))
    return statements[: spec.get("limit")]


def _latest_note(summary: PatientSummary) -> str | None:
    notes = [entry for entry in summary.timeline if entry.kind == "note"]
    dated = [entry for entry in notes if entry.date] or notes
    return dated[-1].citations[0].row_id if dated else None


class _Fields(dict):
    """Placeholder values; one a line pattern names but this statement lacks is left empty."""

    def __missing__(self, key: str) -> str:
        return ""
