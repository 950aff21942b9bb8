"""Readable Markdown of a patient summary, with numbered citation markers and a list of sources."""

from __future__ import annotations

from collections.abc import Iterable

from carelm.generate.summary_model import AnyCitation, FieldCitation, PatientSummary, SpanCitation, SummaryItem

MARKERS_SHOWN = 3  # per item; the JSON form keeps every citation
_GROUPS = (
    ("Active problems", "problems", ("present",)),
    ("Possible problems (uncertain)", "problems", ("uncertain",)),
    ("Past medical history", "problems", ("historical",)),
    ("Key findings", "findings", ("present", "uncertain", "historical")),
    ("Pertinent negatives", ("problems", "findings"), ("negated",)),
    ("Medications", "medications", ("present", "uncertain", "historical")),
    ("Allergies", "allergies", ("present", "uncertain", "historical", "negated")),
    ("Procedures", "procedures", ("present", "uncertain", "historical")),
    ("Family history", "family_history", ("present", "uncertain", "historical", "negated")),
)


class CitationIndex:
    """Numbers citations in order of first use, so one source keeps one marker across a document."""

    def __init__(self) -> None:
        self.numbers: dict[AnyCitation, int] = {}

    def number(self, citation: AnyCitation) -> int:
        return self.numbers.setdefault(citation, len(self.numbers) + 1)

    def markers(self, citations: Iterable[AnyCitation], limit: int | None = None) -> str:
        chosen = list(citations)
        extra = len(chosen) - limit if limit is not None and len(chosen) > limit else 0
        shown = chosen[-limit:] if extra else chosen  # the most recent ones
        text = "".join(f"[{self.number(c)}]" for c in shown)
        return text + (f" (+{extra} more)" if extra else "")

    def sources(self) -> list[str]:
        """One Markdown line per numbered citation."""
        return [f"[{number}] {describe(citation)}" for citation, number in self.numbers.items()]


def describe(citation: AnyCitation) -> str:
    """A citation in words: where it points and what it holds."""
    if isinstance(citation, SpanCitation):
        quote = " ".join(citation.quote.split())
        where = f"note {citation.note_id} [{citation.start}:{citation.end}] of its {citation.view} text"
        return f"{where}: \u201c{quote}\u201d"
    assert isinstance(citation, FieldCitation)
    row = "record item" if citation.table == "record_items" else "note"
    return f"{row} {citation.row_id}, field {citation.field}: \u201c{citation.value}\u201d"


def codes_text(item: SummaryItem) -> str:
    codes = [c["code"] for c in item.codes if c.get("system") == "ICD-10-CM"]
    return f" ({', '.join(codes)})" if codes else ""


def item_line(item: SummaryItem, index: CitationIndex) -> str:
    detail = f": {item.value}{' ' + item.unit if item.unit else ''}" if item.value else ""
    status = "" if item.status == "present" else f" \u2014 {item.status}"
    dates = f" (last {item.last_date})" if item.last_date else ""
    return f"- {item.term}{codes_text(item)}{detail}{status}{dates} {index.markers(item.citations, MARKERS_SHOWN)}"


def render_markdown(summary: PatientSummary, index: CitationIndex | None = None) -> str:
    """The summary as Markdown: grouped items, the timeline, then the numbered sources."""
    index = index or CitationIndex()
    lines = [f"# Patient summary: {summary.patient_id}", "",
             f"From {summary.notes} note(s) and {summary.record_items} structured record item(s). "
             "Markers like [1] point to the sources listed at the end.", ""]
    for heading, categories, statuses in _GROUPS:
        names = (categories,) if isinstance(categories, str) else categories
        items = [item for name in names for item in getattr(summary, name) if item.status in statuses]
        if items:
            lines += [f"## {heading}", *(item_line(item, index) for item in items), ""]
    if summary.timeline:
        lines.append("## Timeline")
        for entry in summary.timeline:
            introduced = ", ".join(_term(summary, item_id) for item_id in entry.item_ids[:8])
            more = f" (+{len(entry.item_ids) - 8} more)" if len(entry.item_ids) > 8 else ""
            new = f"; first documented: {introduced}{more}" if introduced else ""
            lines.append(f"- {entry.date or 'undated'}: {entry.label}{new} {index.markers(entry.citations)}")
        lines.append("")
    if index.numbers:
        lines += ["## Sources", *index.sources(), ""]
    return "\n".join(lines)


def _term(summary: PatientSummary, item_id: str) -> str:
    item = summary.item(item_id)
    return item.term if item is not None else item_id
