"""``POST /v1/diagnose``, ``/v1/treatments`` and ``/v1/interactions``: reasoning over the knowledge graph.

The graph is ``app.state.knowledge_graph`` when set (embedders set it), else the store's graph when it holds
one (``carelm kg load``; reloaded when its rows change), else the shipped default graph: the same graph the
``/v1/kg`` lookups read.  Include with ``app.include_router(router)``.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from carelm.core.errors import PayloadTooLarge
from carelm.kg.graph import KnowledgeGraph
from carelm.service import diagnose as diagnose_service

router = APIRouter(prefix="/v1", tags=["knowledge"])
_LOADING = threading.Lock()

Evidence = list[dict[str, Any]]
Paths = list[list[dict[str, Any]]]


def get_graph(request: Request) -> KnowledgeGraph:
    """``app.state.knowledge_graph`` when set, else the store's graph when it holds one, else the default graph
    (a ConfigError when there is none)."""
    from carelm.api.kg_routes import graph_cache

    state = request.app.state
    if getattr(state, "knowledge_graph", None) is not None:
        return state.knowledge_graph
    graph, _ = graph_cache(state).get(state.context)
    return graph


GraphDep = Annotated[KnowledgeGraph, Depends(get_graph)]


class DiagnoseRequest(BaseModel):
    """Findings as names, a note to read them from, or both."""

    model_config = {"extra": "forbid"}
    text: str | None = None
    findings: list[str] = Field(default_factory=list, max_length=200)
    absent: list[str] = Field(default_factory=list, max_length=200)
    candidates: list[str] | None = Field(default=None, max_length=200)
    top_k: int = Field(default=10, ge=1, le=diagnose_service.MAX_TOP_K)


class SuggestionOut(BaseModel):
    condition: str
    node_id: str | None
    icd10: str | None
    score: float
    supporting: Evidence
    against: Evidence
    missing: Evidence
    paths: Paths
    candidate: str | None = None
    note: str | None = None
    error: str | None = None


class FindingsUsed(BaseModel):
    present: list[str]
    absent: list[str]
    unmatched: list[str]


class DiagnoseResponse(BaseModel):
    differential: list[SuggestionOut]
    findings: FindingsUsed


class TreatmentsRequest(BaseModel):
    model_config = {"extra": "forbid"}
    condition: str = Field(min_length=1)
    allergies: list[str] = Field(default_factory=list, max_length=100)
    medications: list[str] = Field(default_factory=list, max_length=100)
    include_similar: bool = False


class TreatmentOptionOut(BaseModel):
    compound: str
    node_id: str
    relation: str
    evidence: Evidence
    paths: Paths
    indirect: bool
    via: str | None
    interactions: Evidence


class ExcludedOut(BaseModel):
    compound: str
    node_id: str
    reason: str
    evidence: Evidence
    paths: Paths


class TreatmentsResponse(BaseModel):
    condition: str
    node_ids: list[str]
    options: list[TreatmentOptionOut]
    excluded: list[ExcludedOut]
    unmatched: dict[str, list[str]]


class InteractionsRequest(BaseModel):
    model_config = {"extra": "forbid"}
    medications: list[str] = Field(min_length=2, max_length=100)


class InteractionPairOut(BaseModel):
    a: str
    b: str
    a_id: str
    b_id: str
    type: str | None
    evidence: Evidence
    paths: Paths


class InteractionsResponse(BaseModel):
    pairs: list[InteractionPairOut]
    unmatched: list[str]


@router.post("/diagnose", response_model=DiagnoseResponse)
def diagnose(body: DiagnoseRequest, graph: GraphDep, request: Request) -> DiagnoseResponse:
    """A differential diagnosis with, for each condition, the findings and graph paths that support it.

    Findings come from `findings` and, with `text`, from the note's asserted symptoms and problems (denied
    ones count as `absent`).  With `candidates`, exactly those conditions are scored, in the given order.
    """
    limit = request.app.state.context.settings.max_request_bytes
    if body.text is not None and len(body.text.encode()) > limit:
        raise PayloadTooLarge(f"text is larger than {limit} bytes", location="text")
    item = diagnose_service.check_item(body.model_dump(exclude_none=True), "body")
    return DiagnoseResponse(**diagnose_service.diagnose(graph, item))


@router.post("/treatments", response_model=TreatmentsResponse, responses={404: {"description": "unknown condition"}})
def treatment_options(body: TreatmentsRequest, graph: GraphDep) -> TreatmentsResponse:
    """Compounds that treat or palliate the condition with their evidence; allergies excluded (listed with the
    reason), interactions with current medications flagged."""
    report = diagnose_service.treatments(graph, body.condition, body.allergies, body.medications, body.include_similar)
    return TreatmentsResponse(**report.to_dict())


@router.post("/interactions", response_model=InteractionsResponse)
def medication_interactions(body: InteractionsRequest, graph: GraphDep) -> InteractionsResponse:
    """Every interacting pair among the medications, with its type and evidence; unknown names listed."""
    return InteractionsResponse(**diagnose_service.interactions(graph, body.medications).to_dict())
