"""Authentication for the API: every route except those in ``PUBLIC_ROUTES`` needs a valid API key.

``authenticate`` is an app-wide dependency (``create_app`` installs it), so a route added later is closed
until it is listed here.  It only establishes who calls: it puts a per-request ``Context`` acting for that
principal on ``request.state``, and the service layer decides what the principal may do
(``carelm.service.access.require``).  Keys come as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``;
an optional ``X-Purpose`` header states the purpose of use for break-glass reads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from carelm.lifecycle.access import Permission, Principal
from carelm.service import access
from carelm.service.context import Context

PUBLIC_ROUTES = frozenset({"/health"})
PURPOSE_HEADER = "X-Purpose"

bearer_scheme = HTTPBearer(auto_error=False, description="An API key from `carelm keys create`.")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (alternative header).")


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal | None:
    """The calling principal (None on public routes); 401 ``unauthenticated`` for a missing or bad key."""
    route = request.scope.get("route")
    if getattr(route, "path", None) in PUBLIC_ROUTES:
        return None
    existing = getattr(request.state, "context", None)
    if existing is not None:
        return existing.principal
    app_context: Context = request.app.state.context
    presented = bearer.credentials if bearer is not None else header_key
    principal = access.authenticate(app_context, presented)
    request.state.context = app_context.acting_as(principal, request.headers.get(PURPOSE_HEADER))
    return principal


def request_context(request: Request) -> Context:
    """The context of this request: acting for its principal (the app's own context on public routes).

    The app context acts for nobody, so a service call made with it by mistake is refused, never allowed.
    """
    return getattr(request.state, "context", None) or request.app.state.context


def permits(permission: Permission):
    """A route dependency checking ``permission`` with the service rule, for routes whose work reads no stored
    data (knowledge lookups, text sent with the request) and so has no service call that would check it."""

    def check(request: Request, _: Annotated[Principal | None, Depends(authenticate)]) -> None:
        access.require(request_context(request), permission, target_type="route", target_id=request.url.path[:64])

    return Depends(check)


CurrentPrincipal = Annotated[Principal | None, Depends(authenticate)]
