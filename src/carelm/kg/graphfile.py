"""The knowledge graph's own interchange format: JSON lines, optionally gzip-compressed.

One JSON object per line, each with exactly one key:

- ``{"meta": {...}}``: optional, first line only; free-form facts about the file (format, sources, builder);
- ``{"node": {"id", "kind", "name", "synonyms"?, "source"?, "licence"?, "attributes"?}}``; the id is
  ``"<kind>::<identifier>"``;
- ``{"edge": {"source_id", "target_id", "kind", "source", "licence", "weight"?, "evidence"?, "attributes"?}}``;
  ``evidence`` is a list of objects; an item drawn from a stored note carries ``note_id`` and ``record_id``.

Unknown keys are refused, so a typo never silently drops a field.  Edges may name nodes that are not in the
same file (mined edges point at nodes of the default graph or the store).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from carelm.core.errors import InputError
from carelm.kg.graph import Edge, KnowledgeGraph, Node

FORMAT = "carelm-kg"
FORMAT_VERSION = 1
NODE_FIELDS = {"id": str, "kind": str, "name": str, "synonyms": list, "source": str, "licence": str,
               "attributes": dict}
NODE_REQUIRED = ("id", "kind", "name")
EDGE_FIELDS = {"source_id": str, "target_id": str, "kind": str, "source": str, "licence": str,
               "weight": (int, float, type(None)), "evidence": list, "attributes": dict}
EDGE_REQUIRED = ("source_id", "target_id", "kind", "source", "licence")


# --- dicts -------------------------------------------------------------------------------------
def node_to_dict(node: Node) -> dict[str, Any]:
    body: dict[str, Any] = {"id": node.id, "kind": node.kind, "name": node.name}
    if node.synonyms:
        body["synonyms"] = list(node.synonyms)
    body.update(source=node.source, licence=node.licence)
    if node.attributes:
        body["attributes"] = node.attributes
    return body


def edge_to_dict(edge: Edge) -> dict[str, Any]:
    body: dict[str, Any] = {"source_id": edge.source_id, "target_id": edge.target_id, "kind": edge.kind,
                            "source": edge.source, "licence": edge.licence, "weight": edge.weight}
    if edge.evidence:
        body["evidence"] = list(edge.evidence)
    if edge.attributes:
        body["attributes"] = edge.attributes
    return body


def node_from_dict(body: Any, location: str) -> Node:
    """A :class:`Node` from its interchange object; InputError (at ``location``) names what is wrong."""
    _check_fields(body, NODE_FIELDS, NODE_REQUIRED, "node", location)
    if not body["id"].startswith(body["kind"] + "::") or body["id"] == body["kind"] + "::":
        raise InputError(f"node id {body['id']!r} must be '{body['kind']}::<identifier>' (its kind, then ::)",
                         location=location)
    synonyms = body.get("synonyms", [])
    if not all(isinstance(s, str) for s in synonyms):
        raise InputError("node synonyms must be a list of strings", location=location)
    return Node(id=body["id"], kind=body["kind"], name=body["name"], synonyms=tuple(synonyms),
                source=body.get("source", ""), licence=body.get("licence", ""), attributes=body.get("attributes", {}))


def edge_from_dict(body: Any, location: str) -> Edge:
    """An :class:`Edge` from its interchange object; InputError (at ``location``) names what is wrong."""
    _check_fields(body, EDGE_FIELDS, EDGE_REQUIRED, "edge", location)
    evidence = body.get("evidence", [])
    if not all(isinstance(item, dict) for item in evidence):
        raise InputError("edge evidence must be a list of objects", location=location)
    weight = body.get("weight")
    return Edge(source_id=body["source_id"], target_id=body["target_id"], kind=body["kind"], source=body["source"],
                licence=body["licence"], weight=None if weight is None else float(weight), evidence=tuple(evidence),
                attributes=body.get("attributes", {}))


def _check_fields(body: Any, fields: dict[str, Any], required: Iterable[str], what: str, location: str) -> None:
    if not isinstance(body, dict):
        raise InputError(f"{what} must be an object", location=location)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InputError(f"unknown {what} field(s) {unknown}; accepted: {sorted(fields)}", location=location)
    missing = [name for name in required if not body.get(name)]
    if missing:
        raise InputError(f"{what} lacks {missing}", location=location)
    for name, value in body.items():
        expected = fields[name]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise InputError(f"{what} field {name!r} has the wrong type ({type(value).__name__})", location=location)


# --- graphs ------------------------------------------------------------------------------------
def assemble(nodes: Iterable[Node], edges: Iterable[Edge]) -> tuple[KnowledgeGraph, int]:
    """A graph of ``nodes`` and the ``edges`` between them, and how many edges were left out for a missing end.

    Edges that agree on ends, kind and source (one fact seen in several records) become one edge with all
    their evidence and the largest weight.
    """
    graph = KnowledgeGraph()
    graph.extend(nodes)
    merged: dict[tuple[str, str, str, str], Edge] = {}
    dangling = 0
    for edge in edges:
        if edge.source_id not in graph or edge.target_id not in graph:
            dangling += 1
            continue
        key = (edge.source_id, edge.target_id, edge.kind, edge.source)
        seen = merged.get(key)
        merged[key] = edge if seen is None else _merge(seen, edge)
    graph.extend(edges=merged.values())
    return graph, dangling


def _merge(first: Edge, second: Edge) -> Edge:
    weights = [w for w in (first.weight, second.weight) if w is not None]
    return Edge(first.source_id, first.target_id, first.kind, first.source, first.licence,
                weight=max(weights) if weights else None, evidence=first.evidence + second.evidence,
                attributes={**second.attributes, **first.attributes})


def read_graph(path: str | Path) -> KnowledgeGraph:
    """The graph in an interchange file (edges with an end outside the file are left out)."""
    nodes, edges, _ = read_jsonl(path)
    return assemble(nodes, edges)[0]


# --- files -------------------------------------------------------------------------------------
def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_jsonl(path: str | Path) -> tuple[list[Node], list[Edge], dict[str, Any]]:
    """Nodes, edges and the ``meta`` object (empty when absent) of an interchange file (gzip or plain)."""
    path = Path(path)
    nodes: list[Node] = []
    edges: list[Edge] = []
    meta: dict[str, Any] = {}
    for line_no, key, body in _records(path):
        location = f"{path}:{line_no}"
        if key == "node":
            nodes.append(node_from_dict(body, location))
        elif key == "edge":
            edges.append(edge_from_dict(body, location))
        elif nodes or edges or meta:
            raise InputError("a 'meta' line may only come first", location=location)
        elif not isinstance(body, dict):
            raise InputError("meta must be an object", location=location)
        else:
            meta = body
    return nodes, edges, meta


def _records(path: Path) -> Iterator[tuple[int, str, Any]]:
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON ({exc.msg})", location=f"{path}:{line_no}") from None
                if not isinstance(obj, dict) or len(obj) != 1 or next(iter(obj)) not in ("node", "edge", "meta"):
                    raise InputError("each line must be one object with exactly one key: node, edge or meta",
                                     location=f"{path}:{line_no}")
                key, body = next(iter(obj.items()))
                yield line_no, key, body
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(path)) from None


def write_jsonl(graph: KnowledgeGraph, path: str | Path, meta: dict[str, Any] | None = None) -> int:
    """Write ``graph`` (nodes by id, then edges in a stable order) to ``path``; gzip when it ends ``.gz``.

    The file is written next to ``path`` and moved into place, so it is never half-written; gzip output is
    reproducible (no timestamp).  Returns the number of lines written.
    """
    path = Path(path)
    lines = []
    if meta is not None:
        lines.append(json.dumps({"meta": {"format": FORMAT, "version": FORMAT_VERSION, **meta}}, sort_keys=True))
    lines += [_dump({"node": node_to_dict(n)}) for n in sorted(graph.nodes(), key=lambda n: n.id)]
    edges = sorted(graph.edges(), key=lambda e: (e.source_id, e.target_id, e.kind, e.source))
    lines += [_dump({"edge": edge_to_dict(e)}) for e in edges]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    if path.name.endswith(".gz"):
        with tmp.open("wb") as raw, gzip.GzipFile("", "wb", compresslevel=9, fileobj=raw, mtime=0) as handle:
            handle.write(data)  # no name and no time in the header: the same graph gives the same bytes
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(lines)


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
