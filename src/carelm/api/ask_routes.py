"""``POST /v1/ask``: a grounded answer with citations, or yes/no/maybe over given abstract contexts.

With ``contexts`` the question is answered yes/no/maybe from those texts alone (the PubMedQA form; nothing is
read from the store); without, passages are retrieved from the store and the answer quotes them.
Include with ``app.include_router(router)``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from carelm.api.auth import request_context
from carelm.core.errors import InputError
from carelm.generate import closed
from carelm.generate.qa import MAX_QUESTION_CHARS
from carelm.service import ask as ask_service
from carelm.service.context import Context

router = APIRouter(prefix="/v1", tags=["question answering"])


def _context(request: Request) -> Context:
    return request_context(request)


ContextDep = Annotated[Context, Depends(_context)]


class AskRequest(BaseModel):
    """A question; ``contexts`` switches to the closed yes/no/maybe form over those texts."""

    model_config = {"extra": "forbid"}
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    patient: str | None = None
    scope: Literal["records", "literature", "both"] = "both"
    k: int = Field(default=10, ge=1, le=ask_service.MAX_K)
    id: str | int | None = None
    contexts: list[Annotated[str, Field(min_length=1, max_length=closed.MAX_CONTEXT_CHARS)]] | None = Field(
        default=None, min_length=1, max_length=closed.MAX_CONTEXTS)


class CitationOut(BaseModel):
    document_id: str
    start: int
    end: int
    quote: str
    scope: Literal["records", "literature"]


class AskResponse(BaseModel):
    """Every sentence of ``answer`` is a quote followed by its citation number; ``abstained`` when the passages
    do not answer the question."""

    answer: str
    citations: list[CitationOut]
    confidence: float
    abstained: bool


class ContextCitationOut(BaseModel):
    context: int
    start: int
    end: int
    quote: str


class ClosedAskResponse(BaseModel):
    """A yes/no/maybe answer: ``contexts[context][start:end] == quote`` for each citation."""

    id: str | int | None
    answer: Literal["yes", "no", "maybe"]
    rationale: str
    citations: list[ContextCitationOut]
    scores: dict[str, float]
    confidence: float
    abstained: bool = False


@router.post("/ask", response_model=AskResponse | ClosedAskResponse)
def ask(body: AskRequest, ctx: ContextDep) -> AskResponse | ClosedAskResponse:
    """Without `contexts`: the `k` best passages of `scope` (one patient's records with `patient`) answer the
    question, each answer sentence quoted and cited; weak evidence gives `abstained: true`.  With `contexts`:
    yes, no or maybe with a rationale and the cited context sentences."""
    if body.contexts is not None:
        if body.patient is not None:
            raise InputError("'patient' does not apply with 'contexts'", location="body.patient")
        result = ask_service.answer_closed({"id": body.id, "question": body.question, "contexts": body.contexts})
        return ClosedAskResponse(**result, confidence=max(result["scores"].values()))
    if body.id is not None:
        raise InputError("'id' applies with 'contexts' only", location="body.id")
    answer = ask_service.ask(ctx, body.question, patient=body.patient, scope=body.scope, k=body.k)
    return AskResponse(**ask_service.answer_to_dict(answer))
