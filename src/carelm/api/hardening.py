"""HTTP hardening around the whole API: body size limit, rate limit, CORS and security headers.

Each part is a plain ASGI middleware.  ``install_hardening`` puts them outside FastAPI's own error
middleware, so every response, the 413 and 429 answers and an unexpected 500 included, carries the
security headers.  From the outside in: security headers, CORS (only when origins are configured),
rate limit, body size limit, then the application.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carelm.api.errors import error_body
from carelm.core.errors import ConfigError
from carelm.core.settings import Settings

# Paths that serve the interactive documentation; everything else is API data and is never cached.
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
RATE_LIMIT_EXEMPT = ("/health",)
API_KEY_HEADERS = (b"x-api-key", b"authorization")
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type", "X-API-Key", "X-Purpose"]
HSTS = "max-age=63072000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The documentation pages load Swagger UI and ReDoc from their CDN; their inline scripts are allowed
# by hash (computed from the page served), never with 'unsafe-inline'.  Inline styles are allowed
# there only: ReDoc injects <style> elements, and styles cannot run code.
DOCS_CSP = (
    "default-src 'none'",
    "script-src 'self' https://cdn.jsdelivr.net",
    "style-src 'self' https://cdn.jsdelivr.net https://fonts.googleapis.com 'unsafe-inline'",
    "font-src https://fonts.gstatic.com",
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
    "connect-src 'self'",
    "worker-src blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
)
# Set on every response, replacing any value the route gave (raw ASGI headers: lower-case names).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
)
_REPLACED = frozenset(name for name, _ in SECURITY_HEADERS) | {b"strict-transport-security"}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def install_hardening(app: FastAPI, settings: Settings) -> None:
    """Wrap the application's whole middleware stack in the hardening middlewares for these settings."""
    origins = parse_origins(settings.cors_origins)
    limiter = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    build_stack = app.build_middleware_stack

    def hardened_stack() -> ASGIApp:
        inner: ASGIApp = BodySizeLimit(build_stack(), settings.max_request_bytes)
        inner = RateLimit(inner, limiter)
        if origins:
            inner = CORSMiddleware(inner, allow_origins=origins, allow_methods=CORS_METHODS,
                                   allow_headers=CORS_HEADERS, expose_headers=["Retry-After"], max_age=600)
        return SecurityHeaders(inner)

    # FastAPI builds its stack (error middleware outermost) on the first request; wrapping the
    # builder keeps these middlewares outside it.
    app.build_middleware_stack = hardened_stack  # type: ignore[method-assign]


def parse_origins(text: str) -> list[str]:
    """The origins of ``CARELM_CORS_ORIGINS`` (comma-separated ``scheme://host[:port]``); '*' is refused."""
    origins = [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        extra = parts.path or parts.query or parts.fragment or "@" in parts.netloc
        if origin == "*" or parts.scheme not in ("http", "https") or not parts.netloc or extra:
            raise ConfigError(f"CARELM_CORS_ORIGINS: {origin!r} is not an origin; list each allowed origin "
                              "as scheme://host[:port], e.g. https://ward.example.org (a wildcard is not accepted)")
    return origins


async def _send_error(send: Send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    response = JSONResponse(body, status_code=status, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class BodySizeLimit:
    """Refuses request bodies above ``limit`` bytes with 413 ``payload_too_large``, on every route.

    A declared ``Content-Length`` above the limit is refused before anything is read; otherwise the
    body is read (and counted) here, so a chunked upload cannot grow past the limit either, and then
    handed to the application unchanged.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length") or b""
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send) -> None:
        body = error_body("payload_too_large", f"request body is larger than {self.limit} bytes "
                          "(CARELM_MAX_REQUEST_BYTES)", location="body")
        await _send_error(send, 413, body, headers={"connection": "close"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then waits on the real one (for disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class TokenBuckets:
    """One token bucket per client: ``burst`` tokens, refilled at ``rate`` per second.

    At most ``max_clients`` buckets are kept (least recently seen dropped first), so a flood of
    distinct clients cannot grow memory without bound.  Runs on the event loop: no locking needed.
    """

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> float:
        """Spend one token of ``client``; 0.0 if it had one, else the seconds until the next one."""
        now = self.clock()
        tokens, seen = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - seen) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (``name`` in lower case), read from the raw ASGI headers."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value
    return None


def client_identity(scope: Scope) -> str:
    """The rate-limit key of a request: a fingerprint of its API key if it sends one, else its address."""
    for name in API_KEY_HEADERS:
        value = _header(scope, name)
        if value:
            return "key:" + hashlib.sha256(value).hexdigest()[:24]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class RateLimit:
    """429 ``rate_limited`` with ``Retry-After`` once a client has spent its bucket; /health is exempt."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets):
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.buckets.enabled or scope["path"] in RATE_LIMIT_EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_identity(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        message = (f"too many requests: each client may send {self.buckets.burst} at once and "
                   f"{self.buckets.rate:g} per second after that; retry after {retry} s")
        await _send_error(send, 429, error_body("rate_limited", message), headers={"retry-after": str(retry)})


class SecurityHeaders:
    """Adds the security headers to every HTTP response, and ``Cache-Control: no-store`` to API data.

    ``Strict-Transport-Security`` is sent only on requests that arrived over https (directly, or
    through a proxy that uvicorn trusts for ``X-Forwarded-Proto``).  HTML pages (the documentation)
    get a policy that lets their own scripts run, by hash; everything else gets ``default-src 'none'``.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        cacheable = scope["path"] in DOCS_PATHS
        held: dict[str, Any] = {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"], html = _secured(message.get("headers", ()), https=https,
                                                    cacheable=cacheable and message["status"] < 400)
                if html:
                    held["start"], held["body"] = message, []  # the policy needs the page's scripts
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                held["body"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = b"".join(held["body"])
                MutableHeaders(scope=held["start"])["content-security-policy"] = docs_policy(page)
                await send(held["start"])
                message = {"type": "http.response.body", "body": page}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secured(raw: Iterable[tuple[bytes, bytes]], *, https: bool, cacheable: bool) -> tuple[list, bool]:
    """The response headers with the security headers set, and whether the response is an HTML page."""
    headers = [(name, value) for name, value in raw if name.lower() not in _REPLACED]
    names = {name.lower(): value for name, value in headers}
    headers += SECURITY_HEADERS
    if not cacheable and b"cache-control" not in names:
        headers.append((b"cache-control", b"no-store"))
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers, names.get(b"content-type", b"").startswith(b"text/html")


def docs_policy(page: bytes) -> str:
    """The Content-Security-Policy for an HTML page: its inline scripts allowed by their SHA-256 hashes."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
                     for script in _INLINE_SCRIPT.findall(page)})
    directives = [" ".join([d, *hashes]) if d.startswith("script-src") else d for d in DOCS_CSP]
    return "; ".join(directives)
