"""The knowledge graph in memory: typed nodes with synonyms, typed edges with source, licence and evidence.

Node ids are ``"<Kind>::<identifier>"`` (``Disease::DOID:1612``, ``Compound::DB00945``,
``Symptom::ddxplus:E_91``, ``ICD10::I10``).  Kinds: Disease, Symptom, Compound, SideEffect, Anatomy, ICD10
(other kinds are allowed).  Edge kinds are verbs read from source to target: ``treats``, ``palliates``
(Compound → Disease), ``presents`` (Disease → Symptom), ``resembles``, ``localizes`` (Disease → Anatomy),
``causes`` (Compound → SideEffect), ``interacts`` (Compound → Compound), ``is_a`` (child → parent),
``maps_to`` (Disease → ICD10), ``cooccurs`` (mined).  Every edge names its ``source`` and ``licence``;
``evidence`` is a list of small dicts (``{"pmid": ...}``, ``{"sentence": ...}``, ``{"note_id": ...,
"record_id": ...}``) so every suggestion built on the graph can show why.

:class:`KnowledgeGraph` wraps a ``networkx.MultiDiGraph`` and adds name lookup (case- and
punctuation-insensitive, over names and synonyms), typed neighbours and bounded path search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

_FOLD = re.compile(r"[^0-9a-z]+")


def name_key(text: str) -> str:
    """The lookup key of a name: lower case, runs of other characters as one space."""
    return _FOLD.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class Node:
    """A typed node."""

    id: str
    kind: str
    name: str
    synonyms: tuple[str, ...] = ()
    source: str = ""
    licence: str = ""
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Edge:
    """A typed, directed edge with where it comes from and why it is believed."""

    source_id: str
    target_id: str
    kind: str
    source: str
    licence: str
    weight: float | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class KnowledgeGraph:
    """Nodes and edges in memory, for lookups and algorithms."""

    def __init__(self) -> None:
        import networkx as nx

        self.graph = nx.MultiDiGraph()
        self._names: dict[str, set[str]] = {}
        self._undirected: Any = None  # a simple undirected copy for path search, rebuilt after changes

    # --- building -----------------------------------------------------------------------------
    def add_node(self, node: Node) -> None:
        """Add ``node`` (a node with the same id is replaced; names and synonyms are indexed)."""
        self.graph.add_node(node.id, node=node)
        self._undirected = None
        for name in (node.name, *node.synonyms):
            key = name_key(name)
            if key:
                self._names.setdefault(key, set()).add(node.id)

    def add_edge(self, edge: Edge) -> None:
        """Add ``edge``; both ends must exist.  Parallel edges of one kind from different sources are kept."""
        for end in (edge.source_id, edge.target_id):
            if end not in self.graph:
                raise KeyError(f"edge end {end!r} is not a node")
        self.graph.add_edge(edge.source_id, edge.target_id, key=f"{edge.kind}|{edge.source}", edge=edge)
        self._undirected = None

    def extend(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        for node in nodes:
            self.add_node(node)
        for edge in edges:
            self.add_edge(edge)

    # --- reading ------------------------------------------------------------------------------
    def __contains__(self, node_id: str) -> bool:
        return node_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def node(self, node_id: str) -> Node:
        """The node with ``node_id`` (KeyError when absent)."""
        return self.graph.nodes[node_id]["node"]

    def nodes(self, kind: str | None = None) -> Iterator[Node]:
        for _, data in self.graph.nodes(data="node"):
            if kind is None or data.kind == kind:
                yield data

    def edges(self, kind: str | None = None) -> Iterator[Edge]:
        for _, _, edge in self.graph.edges(data="edge"):
            if kind is None or edge.kind == kind:
                yield edge

    def find(self, term: str, kinds: Iterable[str] | None = None) -> list[Node]:
        """Nodes whose name or synonym equals ``term`` after :func:`name_key`, optionally of ``kinds``;
        a node id (``Kind::id``) finds that node."""
        if term in self.graph:
            return [self.node(term)]
        wanted = set(kinds) if kinds else None
        found = [self.node(node_id) for node_id in sorted(self._names.get(name_key(term), ()))]
        return [node for node in found if wanted is None or node.kind in wanted]

    def out_edges(self, node_id: str, kind: str | None = None) -> list[Edge]:
        return [e for _, _, e in self.graph.out_edges(node_id, data="edge") if kind is None or e.kind == kind]

    def in_edges(self, node_id: str, kind: str | None = None) -> list[Edge]:
        return [e for _, _, e in self.graph.in_edges(node_id, data="edge") if kind is None or e.kind == kind]

    def neighbours(self, node_id: str, kinds: Iterable[str] | None = None) -> list[tuple[Edge, Node]]:
        """Edges touching ``node_id`` (either direction) with the node at their other end."""
        wanted = set(kinds) if kinds else None
        out = []
        for edge in self.out_edges(node_id) + self.in_edges(node_id):
            if wanted is None or edge.kind in wanted:
                other = edge.target_id if edge.source_id == node_id else edge.source_id
                out.append((edge, self.node(other)))
        return out

    def paths(self, start: str, end: str, max_edges: int = 3, limit: int = 5) -> list[list[Edge]]:
        """Up to ``limit`` shortest paths from ``start`` to ``end`` ignoring direction, as edge lists."""
        import networkx as nx

        if start not in self.graph or end not in self.graph:
            return []
        if self._undirected is None:
            self._undirected = nx.Graph(self.graph.to_undirected(as_view=True))
        found = []
        try:
            for hops in nx.shortest_simple_paths(self._undirected, start, end):
                if len(hops) - 1 > max_edges or len(found) >= limit:
                    break
                found.append([self._edge_between(a, b) for a, b in zip(hops, hops[1:], strict=False)])
        except nx.NetworkXNoPath:
            return []
        return found

    def _edge_between(self, a: str, b: str) -> Edge:
        data = self.graph.get_edge_data(a, b) or self.graph.get_edge_data(b, a)
        return next(iter(data.values()))["edge"]

    def stats(self) -> dict[str, Any]:
        """Node counts per kind and edge counts per kind and source."""
        from collections import Counter

        return {
            "nodes": len(self),
            "edges": self.graph.number_of_edges(),
            "nodes_by_kind": dict(sorted(Counter(node.kind for node in self.nodes()).items())),
            "edges_by_kind": dict(sorted(Counter(edge.kind for edge in self.edges()).items())),
            "edges_by_source": dict(sorted(Counter(edge.source for edge in self.edges()).items())),
        }
