"""``POST /v1/search``: passages from the records index (de-identified notes), the literature indexes, or both.

Spans are offsets into the stored document: a note's de-identified text, or a literature document's
``title + "\\n" + text``.  Include with ``app.include_router(router)``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from carelm.api.auth import request_context
from carelm.core.types import Passage
from carelm.service import search as search_service
from carelm.service.context import Context

router = APIRouter(prefix="/v1", tags=["search"])
MAX_QUERY_CHARS = 4000


def _context(request: Request) -> Context:
    return request_context(request)


ContextDep = Annotated[Context, Depends(_context)]


class SearchRequest(BaseModel):
    """A query and where to look; the record filters restrict record passages only."""

    model_config = {"extra": "forbid"}
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    scope: Literal["records", "literature", "both"] = "both"
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    k: int = Field(default=10, ge=1, le=100)
    patient: str | None = None
    kinds: list[str] | None = Field(default=None, max_length=50)
    sections: list[str] | None = Field(default=None, max_length=50)
    date_from: date | None = None
    date_to: date | None = None


class PassageOut(BaseModel):
    id: str
    document_id: str
    scope: Literal["records", "literature"]
    start: int
    end: int
    score: float
    text: str
    metadata: dict[str, Any]

    @classmethod
    def of(cls, passage: Passage) -> PassageOut:
        return cls(id=passage.id, document_id=passage.document_id, scope=passage.scope, start=passage.start,
                   end=passage.end, score=passage.score, text=passage.text, metadata=passage.metadata)


class SearchResponse(BaseModel):
    query: str
    scope: str
    mode: str
    passages: list[PassageOut]


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, ctx: ContextDep) -> SearchResponse:
    """The `k` best passages, best first; `score` is a BM25 score, a cosine similarity or a fused score by `mode`."""
    passages = search_service.search_passages(
        ctx, body.query, scope=body.scope, k=body.k, mode=body.mode, patient=body.patient, kinds=body.kinds,
        sections=body.sections, date_from=body.date_from, date_to=body.date_to)
    return SearchResponse(query=body.query, scope=body.scope, mode=body.mode,
                          passages=[PassageOut.of(p) for p in passages])
