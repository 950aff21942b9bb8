"""carelm's OpenAI-compatible chat API on a real uvicorn server, a tiny GPT-2 from the model lab registered in a
real SQLite store, and carelm's own openai backend talking to it (with and without the PHI guard)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from pydantic import SecretStr

from carelm.api.app import create_app
from carelm.core.errors import PolicyError
from carelm.core.settings import Settings
from carelm.generate.backend_transformers import TransformersBackend
from carelm.generate.backends import make_backend
from carelm.store.store import Store
from tests.conftest import issue_key
from tests.server import serving
from tests.test_generate_backends import PHI_MESSAGE, PHI_STRINGS, tiny_lm_folder

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    return tiny_lm_folder(tmp_path_factory)


class ReceivedBodies:
    """ASGI middleware around the real app that keeps the body of every chat-completion request it is sent."""

    def __init__(self, app, bodies: list[dict]):
        self.app, self.bodies = app, bodies

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            return await self.app(scope, receive, send)
        chunks, messages = [], []
        while True:
            message = await receive()
            messages.append(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(json.loads(b"".join(chunks) or b"null"))
        replay = iter(messages)

        async def replayed():
            return next(replay, {"type": "http.disconnect"})

        return await self.app(scope, replayed, send)


@contextmanager
def chat_server(settings: Settings, lm_folder, bodies: list[dict] | None = None) -> Iterator[httpx.Client]:
    """The real API with the tiny LM registered as ``tiny-lm`` (and a classifier entry, which chat refuses)."""
    store = Store.open(settings)
    try:
        store.models.register("tiny-lm", "lm", str(lm_folder))
        store.models.register("spec", "classify", str(lm_folder), labels=["a", "b"])
    finally:
        store.close()
    app = create_app(settings)
    with serving(app if bodies is None else ReceivedBodies(app, bodies), role=None) as client:
        client.headers["Authorization"] = f"Bearer {issue_key(settings, 'admin')}"
        yield client


def api_key(client: httpx.Client) -> str:
    """The carelm API key the client sends, for a backend that talks to the same server."""
    return client.headers["Authorization"].removeprefix("Bearer ")


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


MESSAGES = [{"role": "system", "content": "The patient reports cough and fever. Chest is clear."},
            {"role": "user", "content": "What does the patient report?"}]


def test_chat_completions_in_the_openai_shape(settings, lm_folder) -> None:
    with chat_server(settings, lm_folder) as client:
        listed = client.get("/v1/models").json()
        assert listed["object"] == "list"
        assert [m["id"] for m in listed["data"]] == ["extractive", "tiny-lm", "tiny-lm:1"]
        reply = client.post("/v1/chat/completions", json={"model": "tiny-lm", "messages": MESSAGES,
                                                          "max_tokens": 6}).json()
        assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
        assert reply["model"] == "tiny-lm:1" and isinstance(reply["created"], int)
        [choice] = reply["choices"]
        assert choice["index"] == 0 and choice["message"]["role"] == "assistant" and choice["message"]["content"]
        assert choice["finish_reason"] == "length"
        local = TransformersBackend(lm_folder).generate(MESSAGES, max_tokens=6)
        assert choice["message"]["content"] == local.text
        assert reply["usage"] == {"prompt_tokens": local.prompt_tokens, "completion_tokens": 6,
                                  "total_tokens": local.prompt_tokens + 6}
        parts = [{"role": "user", "content": [{"type": "text", "text": "Chest is clear."},
                                              {"type": "text", "text": "How is the chest?"}]}]
        extractive = client.post("/v1/chat/completions", json={"model": "extractive", "messages": parts}).json()
        assert extractive["choices"][0]["message"]["content"] == "Chest is clear."
        assert extractive["usage"]["completion_tokens"] == 3 and extractive["choices"][0]["finish_reason"] == "stop"
    store = Store.open(settings)
    try:
        events = [e for e in reversed(store.audit.entries()) if e["action"] == "generate"]
    finally:
        store.close()
    assert [e["details"]["model"] for e in events] == ["tiny-lm:1", "extractive"]
    assert events[0]["target_id"] and events[0]["details"]["completion_tokens"] == 6
    assert "cough" not in json.dumps([e["details"] for e in events])


def test_openai_backend_against_carelm_equals_the_local_transformers_backend(settings, lm_folder) -> None:
    local = TransformersBackend(lm_folder)
    with chat_server(settings, lm_folder) as client:
        for external in (False, True):  # text without identifiers passes the guard unchanged
            remote = make_backend(settings.model_copy(update={
                "llm_backend": "openai", "llm_base_url": f"{client.base_url}/v1", "llm_model": "tiny-lm",
                "llm_api_key": SecretStr(api_key(client)),
                "llm_external": external}))
            assert remote.external is external
            for max_tokens in (4, 12):
                expected = local.complete(MESSAGES, max_tokens=max_tokens)
                assert expected and remote.complete(MESSAGES, max_tokens=max_tokens) == expected


def test_phi_guard_decides_what_reaches_an_external_server(settings, lm_folder) -> None:
    question = [{"role": "system", "content": PHI_MESSAGE}, {"role": "user", "content": "Does she have asthma?"}]
    bodies: list[dict] = []
    with chat_server(settings, lm_folder, bodies) as client:
        def backend(**update):
            return make_backend(settings.model_copy(update={
                "llm_backend": "openai", "llm_base_url": f"{client.base_url}/v1", "llm_model": "extractive",
                "llm_api_key": SecretStr(api_key(client)),
                **update}))

        with pytest.raises(PolicyError):
            backend().complete(question)  # default: external, refuse
        assert bodies == []  # nothing was sent
        redacted = backend(llm_phi_policy="redact").complete(question)
        assert len(bodies) == 1 and not any(phi in json.dumps(bodies[0]) for phi in PHI_STRINGS)
        assert "[NAME]" in bodies[0]["messages"][0]["content"] and redacted.endswith("has asthma.")
        assert not any(phi in redacted for phi in PHI_STRINGS)
        trusted = backend(llm_external=False).complete(question)  # a local endpoint declared trusted
        assert len(bodies) == 2 and all(phi in json.dumps(bodies[1]) for phi in PHI_STRINGS)
        assert "Quorvan" in trusted


@pytest.mark.parametrize(("body", "status", "code", "where"), [
    ({"model": "extractive", "messages": MESSAGES, "stream": True}, 400, "bad_request", None),
    ({"model": "extractive", "messages": MESSAGES, "n": 2}, 400, "bad_request", None),
    ({"model": "nothing", "messages": MESSAGES}, 404, "not_found", None),
    ({"model": "tiny-lm:7", "messages": MESSAGES}, 404, "not_found", None),
    ({"model": "spec", "messages": MESSAGES}, 422, "invalid_input", "model"),
    ({"model": "extractive", "messages": []}, 422, "invalid_input", "body.messages"),
    ({"model": "extractive", "messages": [{"role": "tool", "content": "x"}]}, 422, "invalid_input",
     "body.messages.0.role"),
    ({"model": "extractive", "messages": MESSAGES, "temperature": 3}, 422, "invalid_input", "body.temperature"),
    ({"model": "extractive", "messages": MESSAGES, "max_tokens": 0}, 422, "invalid_input", "body.max_tokens"),
    ({"model": "extractive", "messages": MESSAGES, "tools": []}, 422, "invalid_input", "body.tools"),
    ({"messages": MESSAGES}, 422, "invalid_input", "body.model"),
])
def test_bad_chat_requests_get_the_standard_error_body(settings, lm_folder, body, status, code, where) -> None:
    with chat_server(settings, lm_folder) as client:
        error = assert_error(client.post("/v1/chat/completions", json=body), status, code)
        if where == "model":
            assert error["location"] == "model" and "'lm' models" in error["message"]
        elif where:
            assert where in [detail["location"] for detail in error["details"]]
        if body.get("stream"):
            assert "stream" in error["message"]


def test_malformed_json_and_wrong_method(settings, lm_folder) -> None:
    with chat_server(settings, lm_folder) as client:
        broken = client.post("/v1/chat/completions", content=b"{not json",
                             headers={"content-type": "application/json"})
        assert_error(broken, 422, "invalid_input")
        assert_error(client.get("/v1/chat/completions"), 405, "method_not_allowed")
