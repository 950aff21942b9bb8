"""``POST /v1/summaries``: a patient's cited summary and, when asked, a report draft.

Span citations are offsets into a stored note's text: its de-identified text (``view`` ``deid``) once a
de-identification stage has run, else its raw text (``view`` ``raw``); ``quote`` is exactly that slice.  Field
citations name a stored row (``table``, ``id``) and ``field``.  Include with ``app.include_router(router)``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from carelm.api.auth import request_context
from carelm.service import summary as summary_service
from carelm.service.context import Context

router = APIRouter(prefix="/v1", tags=["summaries"])


def _context(request: Request) -> Context:
    return request_context(request)


ContextDep = Annotated[Context, Depends(_context)]


class SummaryRequest(BaseModel):
    model_config = {"extra": "forbid"}
    patient_id: str = Field(min_length=1, max_length=200,
                            description="The stored patient id, or the id the patient was ingested with.")
    report: Literal["discharge", "referral"] | None = None
    polish: bool = Field(default=False, description="Rewrite each report section with the configured language "
                                                    "model; a rewrite that adds anything is discarded.")


class SpanCitationOut(BaseModel):
    type: Literal["span"]
    document_id: str
    start: int
    end: int
    quote: str
    view: Literal["deid", "raw"]
    status: str | None = None
    section: str | None = None


class FieldCitationOut(BaseModel):
    type: Literal["field"]
    table: Literal["record_items", "notes"]
    id: str
    field: str
    value: str
    record_id: str | None = None


CitationOut = Annotated[SpanCitationOut | FieldCitationOut, Field(discriminator="type")]


class ItemOut(BaseModel):
    id: str
    category: str
    term: str
    status: Literal["present", "uncertain", "historical", "negated"]
    codes: list[dict[str, Any]]
    value: str | None
    unit: str | None
    first_date: str | None
    last_date: str | None
    concepts: list[str]
    aliases: list[str]
    citations: list[CitationOut]


class TimelineOut(BaseModel):
    id: str
    date: str | None
    kind: str
    label: str
    item_ids: list[str]
    citations: list[CitationOut]


class ReportSectionOut(BaseModel):
    id: str
    heading: str
    text: str
    template_text: str
    polish: dict[str, Any] | None
    statements: list[dict[str, Any]]


class ReportOut(BaseModel):
    kind: str
    title: str
    patient_id: str
    sections: list[ReportSectionOut]
    sources: list[dict[str, Any]]
    text: str


class SummaryResponse(BaseModel):
    patient_id: str
    notes: int
    record_items: int
    problems: list[ItemOut]
    findings: list[ItemOut]
    medications: list[ItemOut]
    allergies: list[ItemOut]
    procedures: list[ItemOut]
    family_history: list[ItemOut]
    pertinent_negatives: list[str]
    timeline: list[TimelineOut]
    text: str
    report: ReportOut | None


@router.post("/summaries", response_model=SummaryResponse,
             responses={404: {"description": "no patient with this id (`not_found`)"}})
def create_summary(body: SummaryRequest, ctx: ContextDep) -> SummaryResponse:
    """The patient's problems, findings, medications, allergies, procedures, family history and timeline, every
    item with citations; the Markdown `text`; and the report draft when `report` is given."""
    payload = summary_service.summary_payload(ctx, body.patient_id, report=body.report, polish=body.polish)
    return SummaryResponse(**payload)
