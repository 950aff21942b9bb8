"""``/v1/erasures`` and ``/v1/compliance/report``: erase a patient with a deletion certificate, and the
data-quality report.  Include with ``app.include_router(router)``; the service layer checks the caller's role.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from carelm.api.auth import request_context
from carelm.lifecycle.erasure import MAX_GIVEN_ID, MAX_REASON
from carelm.service import lifecycle as lifecycle_service
from carelm.service.context import Context

router = APIRouter(prefix="/v1", tags=["lifecycle"])
ContextDep = Annotated[Context, Depends(request_context)]


class ErasureRequest(BaseModel):
    """Whom to erase (external id as ingested, or internal id) and why (no patient identifiers in the reason)."""

    model_config = {"extra": "forbid"}
    patient: str = Field(min_length=1, max_length=MAX_GIVEN_ID)
    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.post("/erasures", status_code=201, response_model=dict[str, Any],
             responses={200: {"description": "the patient was already erased: nothing more was removed"},
                        404: {"description": "no stored or erased patient has this id"}})
def create_erasure(body: ErasureRequest, ctx: ContextDep) -> JSONResponse:
    """Erase a patient and every derived copy; the deletion certificate (201, or 200 with `already_erased`)."""
    certificate = lifecycle_service.erase_patient(ctx, body.patient, body.reason)
    return JSONResponse(certificate, status_code=200 if certificate["already_erased"] else 201)


@router.get("/erasures/{certificate_id}", response_model=dict[str, Any])
def get_erasure(certificate_id: str, ctx: ContextDep) -> dict[str, Any]:
    """A stored deletion certificate."""
    return lifecycle_service.get_certificate(ctx, certificate_id)


@router.get("/compliance/report", response_model=dict[str, Any])
def compliance_report(
    ctx: ContextDep,
    check: Annotated[list[str] | None, Query(description="Checks to run (repeatable): completeness, consistency, "
                                                         "residual_phi, duplicates; default all.")] = None,
) -> dict[str, Any]:
    """Completeness, consistency, residual-PHI and duplicate checks: counts and ids, never text."""
    return lifecycle_service.compliance_report(ctx, check)
