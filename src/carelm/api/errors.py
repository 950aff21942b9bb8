"""The one mapping from exceptions to HTTP statuses and the one JSON error body.

Every error response looks like ``{"error": {"code": ..., "message": ..., "location"?: ..., "details"?: [...]}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from carelm.core import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.CarelmError], int] = {
    errors.PayloadTooLarge: 413,
    errors.InputError: 422,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.PermissionDenied: 403,
    errors.Unauthenticated: 401,
    errors.PolicyError: 403,
    errors.BackendError: 502,
    errors.PipelineError: 400,
    errors.StorageError: 503,
    errors.ConfigError: 503,
}

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input"}


def error_body(code: str, message: str, location: str | None = None, details: list | None = None) -> dict[str, Any]:
    """The single shape of every error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if location:
        error["location"] = location
    if details:
        error["details"] = details
    return {"error": error}


def status_for(exc: errors.CarelmError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.CarelmError)
    async def carelm_error(_: Request, exc: errors.CarelmError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed", extra={"error": exc.code})
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None  # RFC 9110: a 401 names its scheme
        return JSONResponse(error_body(exc.code, exc.message, exc.location, exc.details), status_code=status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                   for e in exc.errors()]
        return JSONResponse(error_body("invalid_input", "request validation failed", details=details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"exc_type": type(exc).__name__})
        return JSONResponse(error_body("internal_error", "internal server error"), 500)
