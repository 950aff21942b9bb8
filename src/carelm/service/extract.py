"""Clinical extraction without a database: mentions, their assertion flags and candidate ICD-10-CM codes.

Each input ``{"id", "text", "targets"?: [{"start", "end"}]}`` gives one output
``{"id", "mentions": [...]}`` (or ``{"id", "error"}``), in input order.  Offsets are into the
input text, end exclusive.  Without ``targets`` the mentions are the dictionary matches in text
order; with ``targets`` they are exactly the given spans, in the given order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from carelm.core.errors import InputError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import registered_stages
from carelm.core.types import Note, Span
from carelm.extract.assertion import assert_spans
from carelm.service.jsonl import INVALID, in_batches, json_objects, run_batch

ITEM_KEYS = {"id", "text", "targets"}
TARGET_KEYS = {"start", "end"}
FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
TEXT_STAGES = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.terms.v1",
               "carelm.context.v1")
CODING_STAGE = "carelm.icd10.v1"
MENTIONS, CODES = "mentions", "codes"


@dataclass
class ExtractItem:
    """One text to extract from (with optional target spans), or the reason it cannot be."""

    id: Any
    text: str | None
    targets: list[tuple[int, int]] | None = None
    error: str | None = None


def coding_available() -> bool:
    """Whether the ICD-10-CM coding stage is registered."""
    return CODING_STAGE in registered_stages()


def extract_pipeline() -> Pipeline:
    """The text stages, then ICD-10-CM coding when that stage is registered."""
    names = TEXT_STAGES + ((CODING_STAGE,) if coding_available() else ())
    return Pipeline.from_names(names)


def check_targets(value: Any, text: str) -> list[tuple[int, int]] | None:
    """Validate ``targets`` (a list of ``{"start", "end"}`` inside ``text``); raises InputError naming the entry."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError("field 'targets' must be a list of {start, end} objects", location="targets")
    targets = []
    for index, entry in enumerate(value):
        where = f"targets[{index}]"
        if not isinstance(entry, dict):
            raise InputError("expected an object {start, end}", location=where)
        unknown = sorted(set(entry) - TARGET_KEYS)
        if unknown:
            raise InputError(f"unknown field(s) {unknown}; accepted: start, end", location=where)
        start, end = entry.get("start"), entry.get("end")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            raise InputError("'start' and 'end' must be integers", location=where)
        if not 0 <= start < end <= len(text):
            raise InputError(f"span must satisfy 0 <= start < end <= {len(text)} (the text length)", location=where)
        targets.append((start, end))
    return targets


def parse_item(obj: Any, location: str) -> ExtractItem:
    """Check one ``{"id", "text", "targets"?}`` object; problems are reported, never raised."""
    if not isinstance(obj, dict):
        return ExtractItem(None, None, error=f"{location}: expected a JSON object")
    item_id = obj.get("id")
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        return ExtractItem(item_id, None, error=f"{location}: unknown field(s) {unknown}; accepted: id, text, targets")
    text = obj.get("text")
    if not isinstance(text, str):
        return ExtractItem(item_id, None, error=f"{location}: field 'text' must be a string")
    try:
        targets = check_targets(obj.get("targets"), text)
    except InputError as exc:
        return ExtractItem(item_id, None, error=f"{location}: {exc}")
    return ExtractItem(item_id, text, targets)


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[ExtractItem]:
    """Items of a JSONL stream; blank lines are skipped, a bad line becomes an item carrying its error."""
    for location, obj in json_objects(lines, name):
        if obj is INVALID:
            yield ExtractItem(None, None, error=f"{location}: not valid JSON")
        else:
            yield parse_item(obj, location)


def extract_items(items: Iterable[ExtractItem], pipeline: Pipeline, batch_size: int = 64) -> Iterator[dict]:
    """One output dict per input item, in input order: the mentions, or an error."""
    for batch in in_batches(items, batch_size):
        yield from _run_batch(batch, pipeline)


def _run_batch(batch: list[ExtractItem], pipeline: Pipeline) -> Iterator[dict]:
    yield from run_batch(batch, pipeline, lambda position, item: Note(text=item.text, id=str(position)),
                         output_for, "extraction failed for this item")


def output_for(item: ExtractItem, note: Note) -> dict:
    """The output object of one processed note: its mentions, or the item's targets, with flags and codes."""
    codes = codes_by_offsets(note.layer(CODES))
    if item.targets is None:
        mentions = sorted(note.layer(MENTIONS), key=lambda span: (span.start, span.end))
        found = [_mention(note.text, m.start, m.end, m.label, m.attributes, codes) for m in mentions]
    else:
        flags = assert_spans(note.views["normalized"], note.layer("sentences"), note.layer("sections"), item.targets)
        found = [_mention(note.text, start, end, _type_at(note.layer(MENTIONS), start, end), attrs, codes)
                 for (start, end), attrs in zip(item.targets, flags, strict=True)]
    return {"id": item.id, "mentions": found}


def _mention(text: str, start: int, end: int, label: str | None, attributes: dict[str, Any],
             codes: dict[tuple[int, int], list[dict]]) -> dict:
    out: dict[str, Any] = {"start": start, "end": end, "text": text[start:end], "type": label}
    out.update({flag: bool(attributes.get(flag, False)) for flag in FLAGS})
    out["section"] = attributes.get("section")
    out["codes"] = codes.get((start, end), [])
    return out


def _type_at(mentions: list[Span], start: int, end: int) -> str | None:
    """The label of the dictionary mention overlapping ``[start, end)`` the most (the first on a tie), or None."""
    best, best_overlap = None, 0
    for span in mentions:
        overlap = min(end, span.end) - max(start, span.start)
        if overlap > best_overlap:
            best, best_overlap = span.label, overlap
    return best


def codes_by_offsets(spans: Iterable[Span]) -> dict[tuple[int, int], list[dict]]:
    """Candidate codes ``{"code", "display", "score"}`` of a ``codes`` layer grouped by offsets, best rank first."""
    grouped: dict[tuple[int, int], list[Span]] = {}
    for span in spans:
        grouped.setdefault((span.start, span.end), []).append(span)
    return {key: [{"code": s.label, "display": s.attributes.get("display"), "score": s.attributes.get("score")}
                  for s in sorted(group, key=_rank)] for key, group in grouped.items()}


def _rank(span: Span) -> tuple[float, float]:
    rank = span.attributes.get("rank")
    score = span.attributes.get("score")
    return (rank if isinstance(rank, int | float) else float("inf"),
            -score if isinstance(score, int | float) else 0.0)
