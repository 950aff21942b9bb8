"""``/v1/kg``: counts, node lookup and neighbours in the knowledge graph.

The graph is the store's when it holds knowledge-graph rows, else the shipped default graph; the store's
graph is kept in memory (``app.state.kg_cache``) and reloaded when its rows change.  Node ids contain ``::``
and ``:`` (``Disease::DOID:2841``); they go in the path as they are, or percent-encoded.
Include with ``app.include_router(router)``.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from carelm.api.auth import request_context
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.service import kg as kg_service
from carelm.service.context import Context

router = APIRouter(prefix="/v1/kg", tags=["knowledge graph"])
_CACHE_LOCK = threading.Lock()


def _context(request: Request) -> Context:
    return request_context(request)


def graph_cache(state: Any) -> kg_service.GraphCache:
    """The app's one graph cache, shared by the lookups and the reasoning routes."""
    with _CACHE_LOCK:
        if getattr(state, "kg_cache", None) is None:
            state.kg_cache = kg_service.GraphCache()
        return state.kg_cache


def _graph(request: Request, ctx: Annotated[Context, Depends(_context)]) -> tuple[KnowledgeGraph, str]:
    return graph_cache(request.app.state).get(ctx)


ContextDep = Annotated[Context, Depends(_context)]
GraphDep = Annotated[tuple[KnowledgeGraph, str], Depends(_graph)]


class KgStats(BaseModel):
    origin: Literal["store", "default"]
    nodes: int
    edges: int
    nodes_by_kind: dict[str, int]
    nodes_by_source: dict[str, int]
    edges_by_kind: dict[str, int]
    edges_by_source: dict[str, int]
    edges_by_licence: dict[str, int]
    edges_from_records: int | None = None


class NodeOut(BaseModel):
    id: str
    kind: str
    name: str
    synonyms: list[str]
    source: str
    licence: str
    attributes: dict[str, Any]

    @classmethod
    def of(cls, node: Node) -> NodeOut:
        return cls(id=node.id, kind=node.kind, name=node.name, synonyms=list(node.synonyms), source=node.source,
                   licence=node.licence, attributes=dict(node.attributes))


class EdgeOut(BaseModel):
    source_id: str
    target_id: str
    kind: str
    source: str
    licence: str
    weight: float | None
    evidence: list[dict[str, Any]]

    @classmethod
    def of(cls, edge: Edge) -> EdgeOut:
        return cls(source_id=edge.source_id, target_id=edge.target_id, kind=edge.kind, source=edge.source,
                   licence=edge.licence, weight=edge.weight, evidence=[dict(e) for e in edge.evidence])


class NodePage(BaseModel):
    origin: Literal["store", "default"]
    items: list[NodeOut]


class Neighbour(BaseModel):
    direction: Literal["out", "in"]
    edge: EdgeOut
    node: NodeOut


class Neighbourhood(BaseModel):
    origin: Literal["store", "default"]
    node: NodeOut
    neighbours: list[Neighbour]


@router.get("/stats", response_model=KgStats)
def kg_stats(ctx: ContextDep) -> KgStats:
    """Nodes and edges by kind, source and licence; ``origin`` says whether this is the store's graph."""
    return KgStats(**kg_service.stats(ctx))


@router.get("/nodes", response_model=NodePage)
def find_nodes(
    graph: GraphDep,
    q: Annotated[str, Query(min_length=1, max_length=300, description="A name, synonym or node id.")],
    kind: Annotated[list[str] | None, Query(description="Only nodes of this kind (repeatable).")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> NodePage:
    """Nodes named ``q`` (any case and punctuation); when none, nodes whose names contain its words."""
    found = kg_service.search_nodes(graph[0], q, kind, limit)
    return NodePage(origin=graph[1], items=[NodeOut.of(node) for node in found])


@router.get("/nodes/{node_id:path}/neighbours", response_model=Neighbourhood)
def node_neighbours(
    node_id: str,
    graph: GraphDep,
    kind: Annotated[list[str] | None, Query(description="Only edges of this kind (repeatable).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Neighbourhood:
    """A node with the edges touching it (``out``: it is the source) and the nodes at their other ends."""
    near = kg_service.neighbourhood(graph[0], node_id, kind, limit)
    return Neighbourhood(origin=graph[1], node=NodeOut.of(graph[0].node(node_id)),
                         neighbours=[Neighbour(direction=d, edge=EdgeOut.of(e), node=NodeOut.of(n))
                                     for d, e, n in near])
