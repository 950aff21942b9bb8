"""The HTTP API served by a real uvicorn server on a free local port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from carelm.api.app import create_app
from carelm.core.settings import Settings
from tests.server import serving

NOTE = {
    "id": "api-1", "patient": {"id": "P-api", "name": "Test Person", "birth_date": "1961-07-04"},
    "kind": "progress_note", "date": "2024-02-01",
    "text": "CHIEF COMPLAINT:\nShortness of breath.\n\nHISTORY OF PRESENT ILLNESS:\nTwo days of dyspnea. "
            "Denies chest pain. No fever.\n\nPLAN:\nChest x-ray. Follow up in one week.",
}


@pytest.fixture
def api(backend_settings: Settings) -> Iterator[httpx.Client]:
    with serving(create_app(backend_settings)) as client:
        yield client


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and isinstance(body["error"]["message"], str)
    assert set(body["error"]) <= {"code", "message", "location", "details"}
    return body["error"]


def test_health_and_openapi(api: httpx.Client):
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["schema_revision"] == "0007"
    spec = api.get("/openapi.json").json()
    assert {"/health", "/v1/records", "/v1/records/{record_id}"} <= set(spec["paths"])


def test_post_note_then_list_and_get_with_annotations_after_processing(api: httpx.Client, backend_settings):
    created = api.post("/v1/records", json=NOTE)
    assert created.status_code == 201, created.text
    assert created.json()["notes_added"] == 1
    again = api.post("/v1/records", json=NOTE).json()
    assert (again["notes_added"], again["notes_skipped"]) == (0, 1)

    from carelm.service.context import Context
    from carelm.service.process import process_notes

    ctx = Context(backend_settings)
    assert process_notes(ctx).notes_done == 1
    ctx.close()

    page = api.get("/v1/records", params={"limit": 1, "raw": "true", "purpose": "check sentence offsets"}).json()
    assert page["total"] == 1 and len(page["items"]) == 1
    note = page["items"][0]["notes"][0]
    assert [s["label"] for s in note["layers"]["sections"]] == ["chief_complaint", "hpi", "plan"]
    sentences = [note["text"][s["start"]:s["end"]] for s in note["layers"]["sentences"]]
    assert "Denies chest pain." in sentences and "Follow up in one week." in sentences
    detail = api.get(f"/v1/records/{page['items'][0]['id']}").json()
    assert detail["notes"][0]["layers"] == note["layers"]
    assert detail["notes"][0]["text"] is None and detail["notes"][0]["deid_text"]  # the original only when asked
    summary = api.get("/v1/records", params={"view": "summary"}).json()["items"][0]
    assert summary["note_count"] == 1 and "notes" not in summary


def test_fhir_bundle_with_bad_entry_is_partly_stored(api: httpx.Client):
    from tests.test_ingest_service import bundle_with_bad_condition

    response = api.post("/v1/records", json=bundle_with_bad_condition())
    assert response.status_code == 201
    body = response.json()
    assert body["notes_added"] == 1 and len(body["issues"]) == 1
    assert "entry[3]" in body["issues"][0]["location"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/v1/records", {"content": b"{not json"}, 422, "invalid_input"),
        ("post", "/v1/records", {"json": [1, 2]}, 422, "invalid_input"),
        ("post", "/v1/records", {"json": {"text": ""}}, 422, "invalid_input"),
        ("post", "/v1/records", {"json": {"text": "x", "colour": "red"}}, 422, "invalid_input"),
        ("get", "/v1/records", {"params": {"limit": 0}}, 422, "invalid_input"),
        ("get", "/v1/records", {"params": {"view": "everything"}}, 422, "invalid_input"),
        ("get", "/v1/records/does-not-exist", {}, 404, "not_found"),
        ("post", "/health", {}, 405, "method_not_allowed"),
        ("post", "/v1/deidentify", {"json": {"text": "x", "mode": "scramble"}}, 422, "invalid_input"),
        ("post", "/v1/deidentify", {"json": {"id": "a"}}, 422, "invalid_input"),
        ("post", "/v1/deidentify", {"json": {"text": "x", "colour": "red"}}, 422, "invalid_input"),
        ("post", "/v1/notes/missing/reidentify", {"json": {"purpose": "audit"}}, 404, "not_found"),
        ("post", "/v1/notes/missing/reidentify", {"json": {}}, 422, "invalid_input"),
        ("get", "/v1/nothing-here", {}, 404, "not_found"),
    ],
)
def test_every_error_has_the_same_body(api: httpx.Client, method, path, kwargs, status, code):
    assert_error_body(api.request(method.upper(), path, **kwargs), status, code)


def test_rejected_note_error_names_the_field_not_the_value(api: httpx.Client):
    error = assert_error_body(api.post("/v1/records", json={"text": "x", "colour": "red"}), 422, "invalid_input")
    assert "colour" in str(error["details"]) and "red" not in str(error["details"])


def test_oversized_body_is_refused(backend_settings: Settings, api: httpx.Client):
    big = {"text": "a" * (backend_settings.max_request_bytes + 10)}
    assert_error_body(api.post("/v1/records", json=big), 413, "payload_too_large")


def test_deidentify_endpoint(api: httpx.Client):
    text = "Seen by Dr. Ingrid Halvorsen on 4/2/2024. Call 212-555-0199."
    response = api.post("/v1/deidentify", json={"id": "q1", "text": text, "patient": "P-9", "mode": "redact"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "q1" and "Halvorsen" not in body["text"] and "212-555-0199" not in body["text"]
    found = {text[s["start"]:s["end"]]: s["type"] for s in body["spans"]}
    assert found["Ingrid Halvorsen"] == "NAME" and found["212-555-0199"] == "PHONE"
    twice = [api.post("/v1/deidentify", json={"text": text, "patient": "P-9"}).json()["text"] for _ in range(2)]
    assert twice[0] == twice[1] and "Halvorsen" not in twice[0]


def test_reidentify_endpoint_restores_stored_text_and_audits(api: httpx.Client, backend_settings):
    api.post("/v1/records", json=NOTE)
    from carelm.service.context import Context
    from carelm.service.process import process_notes

    ctx = Context(backend_settings)
    process_notes(ctx)
    note_id = ctx.store.records.list_records()[0].id
    note_id = ctx.store.records.get_record(note_id).notes[0].id
    response = api.post(f"/v1/notes/{note_id}/reidentify", json={"purpose": "treatment"})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == NOTE["text"]
    assert ctx.store.audit.entries(limit=1)[0]["action"] == "reidentify"
    ctx.close()
