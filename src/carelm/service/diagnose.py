"""Differential diagnosis over the knowledge graph, for the CLI and the API: from findings, a note, or both.

A request ``{"id"?, "text"?, "findings"?, "absent"?, "candidates"?, "top_k"?}`` gives
``{"id", "differential": [...], "findings": {"present", "absent", "unmatched"}}``: the findings actually
used (those read from ``text`` by the extraction pipeline, then the given ones) and the names that match
no Symptom or RiskFactor node, so a caller can see what the ranking rests on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carelm.core.errors import CarelmError, ConfigError, InputError
from carelm.kg.graph import KnowledgeGraph
from carelm.kg.reasoning import differential, findings_from_text, interactions, match_findings, treatments
from carelm.service.jsonl import INVALID, json_objects

__all__ = ["DiagnoseItem", "check_item", "diagnose", "diagnose_items", "interactions", "load_graph", "read_jsonl",
           "treatments"]

ITEM_KEYS = ("id", "text", "findings", "absent", "candidates", "top_k")
MAX_TOP_K = 100


def load_graph(path: str | Path | None = None) -> KnowledgeGraph:
    """The graph in a JSONL(.gz) interchange file, else the default graph; a ConfigError saying how to give one."""
    if path is not None:
        from carelm.kg.graphfile import read_graph

        return read_graph(path)
    try:
        from carelm.kg.build import default_graph
    except ImportError as exc:
        raise ConfigError(f"no default knowledge graph is available ({exc.name or 'carelm.kg.build'} cannot be "
                          "imported); pass a graph JSONL(.gz) file with --graph PATH") from None
    return default_graph()


@dataclass
class DiagnoseItem:
    """One diagnosis request, or the reason it cannot be served."""

    id: Any = None
    text: str | None = None
    findings: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    candidates: list[str] | None = None
    top_k: int = 10
    error: str | None = None


def check_item(obj: Any, location: str) -> DiagnoseItem:
    """A validated request; raises InputError naming the field and what is accepted."""
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", location=location)
    unknown = sorted(set(obj) - set(ITEM_KEYS))
    if unknown:
        raise InputError(f"unknown field(s) {unknown}; accepted: {', '.join(ITEM_KEYS)}", location=location)
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise InputError("'text' must be a string", location=f"{location}.text")
    lists = {key: _strings(obj.get(key), f"{location}.{key}") for key in ("findings", "absent", "candidates")}
    if text is None and not lists["findings"]:
        raise InputError("give 'text' or a non-empty 'findings' list", location=location)
    top_k = obj.get("top_k", 10)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"'top_k' must be an integer from 1 to {MAX_TOP_K}", location=f"{location}.top_k")
    return DiagnoseItem(obj.get("id"), text, lists["findings"] or [], lists["absent"] or [],
                        lists["candidates"], top_k)


def _strings(value: Any, location: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError("must be a list of non-empty strings", location=location)
    return value


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[DiagnoseItem]:
    """Requests of a JSONL stream; a bad line becomes an item carrying its error (its id kept when readable)."""
    for location, obj in json_objects(lines, name):
        if obj is INVALID:
            yield DiagnoseItem(error=f"{location}: not valid JSON")
            continue
        try:
            yield check_item(obj, location)
        except InputError as exc:
            yield DiagnoseItem(obj.get("id") if isinstance(obj, dict) else None, error=str(exc))


def diagnose(graph: KnowledgeGraph, item: DiagnoseItem) -> dict[str, Any]:
    """The differential of one request, with the findings it used."""
    present, absent = list(item.findings), list(item.absent)
    if item.text is not None:
        from_note = findings_from_text(item.text)
        present = list(dict.fromkeys(from_note.findings + present))
        absent = list(dict.fromkeys(from_note.absent + absent))
    ranked = differential(graph, present, absent, candidates=item.candidates, top_k=item.top_k)
    _, unmatched = match_findings(graph, present + absent)
    return {"differential": [s.to_dict() for s in ranked],
            "findings": {"present": present, "absent": absent, "unmatched": unmatched}}


def diagnose_items(items: Iterable[DiagnoseItem], graph: KnowledgeGraph) -> Iterator[dict[str, Any]]:
    """One output per request, in order: ``{"id", "differential", "findings"}`` or ``{"id", "error"}``."""
    for item in items:
        if item.error is not None:
            yield {"id": item.id, "error": item.error}
            continue
        try:
            yield {"id": item.id, **diagnose(graph, item)}
        except CarelmError as exc:
            yield {"id": item.id, "error": f"diagnosis failed for this item ({exc.code})"}
