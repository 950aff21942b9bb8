"""A real uvicorn server on a free loopback port, for tests that talk HTTP to the API."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, timeout: float = 30, *, role: str | None = "admin") -> Iterator[httpx.Client]:
    """Serve ``app`` in a background thread; yield a client bound to it; stop the server afterwards.

    For a carelm app the client carries the API key of a new principal with ``role`` (None: no key).
    """
    headers = {}
    context = getattr(getattr(app, "state", None), "context", None)
    if role is not None and context is not None:
        from tests.conftest import issue_key

        headers["Authorization"] = f"Bearer {issue_key(context.settings, role)}"
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "API server did not start"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout, headers=headers) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)
