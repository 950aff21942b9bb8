"""Knowledge-graph use-cases for the CLI and API: load sources into the store, and look things up.

The graph that lookups use is the store's when it holds knowledge-graph rows, else the shipped default graph
(:func:`carelm.kg.build.default_graph`).  :class:`GraphCache` keeps the store's graph in memory and reloads it
when the rows change.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError, NotFoundError
from carelm.kg import loaders
from carelm.kg.graph import Edge, KnowledgeGraph, Node, name_key
from carelm.kg.sources import DDXPLUS, HETIONET, ICD10CM, NAME_LINKS, SIDER
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context

SOURCES = ("hetionet", "hetionet-sider", "ddxplus", "icd10cm", "jsonl", "default")
NONCOMMERCIAL = frozenset({"hetionet-sider"})
_NEEDS_PATH = {"hetionet", "hetionet-sider", "ddxplus", "jsonl"}
_REPLACES = {"hetionet": [HETIONET], "hetionet-sider": [HETIONET, SIDER], "ddxplus": [DDXPLUS], "icd10cm": [ICD10CM]}
STORE, DEFAULT = "store", "default"


@dataclass(frozen=True)
class LoadReport:
    """What ``load_source`` stored: rows written and replaced, and the name links computed afterwards."""

    source: str
    nodes: int
    edges: int
    replaced_nodes: int
    replaced_edges: int
    name_links: int
    noncommercial: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- loading -----------------------------------------------------------------------------------
def load_source(ctx: Context, source: str, path: Path | None = None, *, replace: bool = False) -> LoadReport:
    """Store one knowledge source; loading it again replaces it rather than adding to it.

    hetionet, hetionet-sider, ddxplus and icd10cm replace every row of their source.  jsonl and default merge
    (a fact already stored is replaced, nothing is duplicated); with ``replace`` they first remove every row
    of the sources their file names.  Afterwards the name links between sources are computed again.
    """
    require(ctx, Permission.KNOWLEDGE_WRITE, target_type="kg_source", target_id=source[:64])
    nodes, edges = read_source(source, path)
    if source in _REPLACES:
        replaced: list[str] | None = _REPLACES[source]
    else:
        replaced = sorted({item.source for item in (*nodes, *edges)}) if replace else None
    result = ctx.store.kg.save(nodes, edges, replace_source=replaced)
    links = refresh_name_links(ctx)
    return LoadReport(source, result.nodes, result.edges, result.replaced_nodes, result.replaced_edges, links,
                      source in NONCOMMERCIAL)


def read_source(source: str, path: Path | None) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges of a named source (see :data:`SOURCES`), read from ``path`` where it needs one."""
    if source not in SOURCES:
        raise InputError(f"unknown knowledge source {source!r}; accepted: {', '.join(SOURCES)}", location="source")
    if source not in _NEEDS_PATH and path is not None:
        raise InputError(f"{source} takes no PATH", location="path")
    if source == "icd10cm":
        return loaders.icd10cm()
    if source == "default":
        from carelm.kg.build import DEFAULT_GRAPH

        return loaders.jsonl(DEFAULT_GRAPH)
    if path is None:
        raise InputError(f"{source} needs the PATH of its files", location="path")
    if not path.exists():
        raise InputError("not found", location=str(path))
    if source == "ddxplus":
        return loaders.ddxplus(path)
    if source == "jsonl":
        return loaders.jsonl(path)
    return loaders.hetionet(path, include_noncommercial=source == "hetionet-sider")


def refresh_name_links(ctx: Context) -> int:
    """Recompute the ``same_as``/``maps_to`` name links between the stored sources; returns how many."""
    nodes = ctx.store.kg.nodes(kinds=[*loaders.LINKED_KINDS, "ICD10"])
    links = loaders.name_links(nodes)
    ctx.store.kg.save([], links, replace_source=NAME_LINKS)
    return len(links)


# --- which graph -------------------------------------------------------------------------------
class GraphCache:
    """The graph lookups use: the store's (reloaded when its rows change) or the shipped default graph."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: tuple[Any, ...] | None = None
        self._graph: KnowledgeGraph | None = None

    def get(self, ctx: Context) -> tuple[KnowledgeGraph, str]:
        """``(graph, origin)`` with origin ``"store"`` or ``"default"``."""
        from carelm.service.diagnose import load_graph

        repository = ctx.store.kg
        if repository.is_empty():
            return load_graph(), DEFAULT
        with self._lock:
            fingerprint = repository.fingerprint()
            if self._graph is None or fingerprint != self._fingerprint:
                self._graph, self._fingerprint = repository.load_graph(), fingerprint
            return self._graph, STORE


# --- lookups -----------------------------------------------------------------------------------
def stats(ctx: Context) -> dict[str, Any]:
    """The store's counts (edge rows, per kind, source and licence) when it holds a graph, else the default
    graph's; ``origin`` says which."""
    require(ctx, Permission.KNOWLEDGE_READ, target_type="kg")
    if ctx.store.kg.is_empty():
        from carelm.kg.build import default_graph

        return graph_stats(default_graph(), DEFAULT)
    return {"origin": STORE, **ctx.store.kg.stats()}


def graph_stats(graph: KnowledgeGraph, origin: str) -> dict[str, Any]:
    """Counts of nodes and edges by kind, source and licence, and where the graph comes from."""
    by_source = Counter(node.source for node in graph.nodes())
    licences = Counter(edge.licence for edge in graph.edges())
    return {"origin": origin, **graph.stats(), "nodes_by_source": dict(sorted(by_source.items())),
            "edges_by_licence": dict(sorted(licences.items()))}


_NAME_KEYS: weakref.WeakKeyDictionary[KnowledgeGraph, list[tuple[str, str]]] = weakref.WeakKeyDictionary()


def _name_keys(graph: KnowledgeGraph) -> list[tuple[str, str]]:
    """(`` name key ``, node id) for every name and synonym, built once per graph."""
    keys = _NAME_KEYS.get(graph)
    if keys is None:
        keys = [(f" {name_key(name)} ", node.id) for node in graph.nodes() for name in (node.name, *node.synonyms)]
        _NAME_KEYS[graph] = keys
    return keys


def search_nodes(graph: KnowledgeGraph, term: str, kinds: list[str] | None = None, limit: int = 20) -> list[Node]:
    """Nodes named ``term`` (or with that id); when none, nodes whose name contains its words, shortest first."""
    if not term.strip():
        raise InputError("give a name or node id to look up", location="q")
    found = graph.find(term.strip(), kinds)
    if found:
        return found[:limit]
    key = f" {name_key(term)} "
    if not key.strip():
        return []
    wanted = set(kinds) if kinds else None
    hits = {node_id for name, node_id in _name_keys(graph) if key in name}
    nodes = [graph.node(node_id) for node_id in hits]
    nodes = [node for node in nodes if wanted is None or node.kind in wanted]
    return sorted(nodes, key=lambda node: (len(node.name), node.name, node.id))[:limit]


def neighbourhood(graph: KnowledgeGraph, node_id: str, edge_kinds: list[str] | None = None,
                  limit: int | None = None) -> list[tuple[str, Edge, Node]]:
    """``(direction, edge, other node)`` for every edge touching ``node_id`` (direction ``out`` or ``in``),
    optionally only edges of ``edge_kinds``; NotFoundError for an unknown node."""
    if node_id not in graph:
        raise NotFoundError(f"no knowledge-graph node {node_id!r}", location="node_id")
    found = [("out" if edge.source_id == node_id else "in", edge, other)
             for edge, other in graph.neighbours(node_id, edge_kinds)]
    found.sort(key=lambda item: (item[1].kind, item[0], item[2].name.lower(), item[2].id))
    return found if limit is None else found[:limit]


def lookup(graph: KnowledgeGraph, term: str, edge_kinds: list[str] | None = None,
           node_kinds: list[str] | None = None, limit: int = 50) -> list[tuple[Node, list[tuple[str, Edge, Node]]]]:
    """The nodes ``term`` names with their neighbours (at most ``limit`` each); NotFoundError when none."""
    nodes = search_nodes(graph, term, node_kinds, limit=10)
    if not nodes:
        raise NotFoundError(f"no knowledge-graph node is named {term!r}", location="term")
    return [(node, neighbourhood(graph, node.id, edge_kinds, limit)) for node in nodes]
