"""The ``openai`` backend: any server speaking the OpenAI chat-completions protocol (vLLM, Ollama,
llama.cpp's server, carelm's own ``/v1/chat/completions``).

One ``POST {base_url}/chat/completions`` per call with ``{"model", "messages", "max_tokens", "temperature"}``
and, when a key is set, ``Authorization: Bearer <key>``.  Connection errors, timeouts, 429 and 5xx answers are
retried ``retries`` times, waiting ``backoff`` seconds then twice as long each time; other answers fail at once.
Errors and logs name the endpoint, the attempt, the HTTP status and the exception type, never the text sent or
received.  A backend marked ``external`` sends text off this machine, so it cannot be built without a PHI
``guard`` (see :mod:`carelm.generate.policy`), which sees every message before it is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from carelm.core.errors import BackendError, ConfigError
from carelm.generate.backend_common import check_messages, check_sampling
from carelm.generate.base import Message

log = logging.getLogger(__name__)
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
Guard = Callable[[list[Message]], list[Message]]


class OpenAIBackend:
    """A client of one OpenAI-compatible endpoint and model (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        external: bool = True,
        guard: Guard | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError("the openai backend needs a base URL starting with http:// or https:// "
                              "(CARELM_LLM_BASE_URL, e.g. http://127.0.0.1:8001/v1)")
        if not model:
            raise ConfigError("the openai backend needs a model name (CARELM_LLM_MODEL)")
        if external and guard is None:
            raise ConfigError("an external backend needs a PHI guard: build it with make_backend(settings)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.external = bool(external)
        self.phi_guard = guard
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> str:
        check_sampling(max_tokens, temperature)
        messages = check_messages(messages)
        if self.phi_guard is not None:
            messages = self.phi_guard(messages)
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        return _reply_text(self._post(body), self.base_url)

    def _post(self, body: dict[str, Any]) -> Any:
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            failure = None
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TransportError as exc:  # connection refused, DNS, timeouts, broken connections
                failure = type(exc).__name__
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        raise BackendError(f"{self.base_url} answered with a body that is not JSON") from None
                if response.status_code not in RETRY_STATUSES:
                    raise BackendError(f"{self.base_url} refused the request: HTTP {response.status_code}"
                                       f"{_error_code(response)}")
                failure = f"HTTP {response.status_code}"
            log.warning("llm endpoint call failed", extra={"endpoint": self.base_url, "attempt": attempt,
                                                           "attempts": attempts, "failure": failure})
            if attempt < attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise BackendError(f"language-model endpoint {self.base_url} failed after {attempts} attempt(s) "
                           f"(last: {failure}); check that the server runs and CARELM_LLM_BASE_URL")

    def close(self) -> None:
        self._client.close()


def _error_code(response: httpx.Response) -> str:
    """`` (code)`` from an error body shaped ``{"error": {"code"|"type": ...}}``; never its message."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    code = error.get("code") or error.get("type") if isinstance(error, dict) else None
    return f" ({str(code)[:64]})" if isinstance(code, str | int) and code else ""


def _reply_text(data: Any, endpoint: str) -> str:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        raise BackendError(f"{endpoint} answered without choices[0].message.content")
    return content
