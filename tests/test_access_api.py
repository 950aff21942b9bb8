"""Acceptance: over a real server, a researcher key cannot obtain raw text or re-identify by any route.

The walk takes every route of ``app.openapi()``, sends a minimal valid request (bodies built from the route's
schema, with a few realistic values), and checks that no response carries the made-up patient's name, MRN or
phone number, that the raw-text and re-identification routes answer 403, and that each refusal is audited.
An auditor (who may read the audit trail only) is refused on every route but ``/health``, so a route added
without a permission check fails here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from carelm.api.app import create_app
from carelm.core.pipeline import Pipeline
from carelm.core.settings import Settings, get_settings
from carelm.kg.build import default_graph
from carelm.service import access, extract
from carelm.service import kg as kg_service
from carelm.service.context import Context
from tests.conftest import TEST_KEY, _pg_admin_url, issue_key
from tests.server import serving
from tests.test_access_service import PHI, store_made_up_note

ROLES = ("admin", "clinician", "researcher", "auditor")
PUBLIC = {("get", "/health")}
REIDENTIFY = ("post", "/v1/notes/{note_id}/reidentify")
# Routes an auditor may use (permission audit.read), besides any under /v1/audit; every other route must refuse.
AUDITOR_MAY = {"get /v1/erasures/{certificate_id}", "get /v1/compliance/report"}


@dataclass
class Served:
    client: httpx.Client  # sends no key by itself
    settings: Settings
    keys: dict[str, str]
    ids: dict[str, str]

    def as_role(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def denied_entries(self, actor: str) -> list[dict]:
        ctx = Context(self.settings)
        try:
            return [e for e in ctx.store.audit.entries(limit=2000) if e["actor"] == actor and e["outcome"] == "denied"]
        finally:
            ctx.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path_factory) -> Iterator[Served]:
    database, admin_url = None, None
    if request.param == "postgres":
        admin_url = _pg_admin_url()
        name = f"carelm_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    settings = get_settings(profile="test", data_dir=tmp_path_factory.mktemp("access") / "data",
                            secret_key=TEST_KEY, database_url=database)
    ids = store_made_up_note(settings)
    ids["node_id"] = kg_service.search_nodes(default_graph(), "cough", limit=1)[0].id
    keys = {role: issue_key(settings, role, name=f"{role}-walker") for role in ROLES}
    app = create_app(settings)
    app.state.extract_pipeline = Pipeline.from_names(extract.TEXT_STAGES)  # no ICD-10 coding: builds in seconds
    app.state.extract_pipeline.warm_up()
    try:
        with serving(app, role=None, timeout=120) as client:
            yield Served(client, settings, keys, ids)
    finally:
        if database is not None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')


# --- requests built from the OpenAPI description ---------------------------------------------
def realistic_bodies(ids: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Bodies that reach the real work of a route (the schema minimum alone often stops at a 404)."""
    question = "What did the patient report?"
    return {
        ("post", "/v1/records"): {"id": "walk-1", "patient": "P-walk", "text": "Cough for two days."},
        ("post", "/v1/deidentify"): {"text": "Seen today for a cough."},
        ("post", "/v1/extract"): {"text": "Cough and fever, no chest pain."},
        REIDENTIFY: {"purpose": "research study"},
        ("post", "/v1/diagnose"): {"findings": ["cough", "fever"]},
        ("post", "/v1/treatments"): {"condition": "influenza"},
        ("post", "/v1/interactions"): {"medications": ["warfarin", "aspirin"]},
        ("post", "/v1/search"): {"query": "cough fever chest pain", "scope": "records"},
        ("post", "/v1/ask"): {"question": question, "patient": ids["patient_id"], "scope": "records"},
        ("post", "/v1/chat/completions"): {"model": "extractive", "messages": [{"role": "user", "content": question}]},
        ("post", "/v1/summaries"): {"patient_id": ids["patient_id"], "report": "discharge"},
    }


def from_schema(schema: dict, components: dict) -> Any:
    """The smallest value the schema accepts: required fields only, first choices, minimum sizes."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [s for s in schema[union] if s.get("type") != "null"]
            return from_schema(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: from_schema(props[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [from_schema(schema.get("items", {}), components)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        return "cough" + "x" * max(0, schema.get("minLength", 0) - 5)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    raise AssertionError(f"no sample for schema {schema}")


@dataclass
class Call:
    method: str
    template: str
    url: str
    params: dict[str, str]
    body: Any
    asks_raw: bool = False


def every_route(served: Served) -> list[Call]:
    """One call per route and method of the OpenAPI description, plus a raw-text variant where a route offers one."""
    spec = served.client.get("/openapi.json").json()
    components = spec.get("components", {}).get("schemas", {})
    bodies = realistic_bodies(served.ids)
    calls = []
    for template, operations in spec["paths"].items():
        for method, op in operations.items():
            if (method, template) in PUBLIC:
                continue
            url = template
            for name in re.findall(r"{(\w+)}", template):  # ids of the stored note, else one that is not there
                url = url.replace(f"{{{name}}}", served.ids.get(name, f"no-such-{name}"))
            query = {p["name"]: from_schema(p["schema"], components)
                     for p in op.get("parameters", []) if p["in"] == "query" and p.get("required")}
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            body = bodies.get((method, template), from_schema(schema, components) if schema else None)
            if method == "post" and body is None:
                body = {}
            calls.append(Call(method, template, url, query, body))
            if any(p["name"] == "raw" for p in op.get("parameters", [])):
                calls.append(Call(method, template, url, {**query, "raw": "true", "purpose": "research study"},
                                  body, asks_raw=True))
    return calls


def send(served: Served, call: Call, role: str) -> httpx.Response:
    return served.client.request(call.method.upper(), call.url, params=call.params, json=call.body,
                                 headers=served.as_role(role))


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.json()["error"]["code"] == code


# --- the acceptance tests ------------------------------------------------------------------------
def test_a_researcher_walking_every_route_never_sees_phi(served: Served):
    calls = every_route(served)
    assert {c.template for c in calls} >= {"/v1/records", "/v1/records/{record_id}", REIDENTIFY[1], "/v1/summaries",
                                           "/v1/search", "/v1/ask"}
    refused, answered = [], set()
    for call in calls:
        response = send(served, call, "researcher")
        leaked = [s for s in PHI if s in response.text]
        assert not leaked, f"{call.method.upper()} {call.url} {call.params} returned {leaked}"
        assert response.status_code != 500, (call.url, response.text)
        if call.asks_raw or (call.method, call.template) == REIDENTIFY:
            assert_error(response, 403, "permission_denied")
        if response.status_code == 403:
            refused.append(call)
        elif response.status_code == 200:
            answered.add(f"{call.method} {call.template}")
    assert {REIDENTIFY, ("post", "/v1/records")} <= {(c.method, c.template) for c in refused}
    # the stored note was really read (de-identified) on the way, so the absence of PHI means something
    assert answered >= {"get /v1/records", "get /v1/records/{record_id}", "post /v1/summaries", "post /v1/search",
                        "post /v1/ask", "post /v1/deidentify", "post /v1/extract", "post /v1/chat/completions"}

    denied = served.denied_entries("researcher-walker")
    assert len(denied) >= len(refused)
    assert {"records.read_raw", "records.reidentify", "records.write"} <= {e["action"] for e in denied}
    raw_targets = {e["target_id"] for e in denied if e["action"] == "records.read_raw"}
    assert served.ids["record_id"] in raw_targets
    assert any(e["target_id"] == served.ids["note_id"] for e in denied if e["action"] == "records.reidentify")


def test_the_researcher_reads_de_identified_records(served: Served):
    headers = served.as_role("researcher")
    record = served.client.get(f"/v1/records/{served.ids['record_id']}", headers=headers)
    assert record.status_code == 200
    note = record.json()["notes"][0]
    assert note["text"] is None and "cough" in note["deid_text"] and note["layers"]["phi"]
    summary = served.client.post("/v1/summaries", json={"patient_id": served.ids["patient_id"]}, headers=headers)
    assert summary.status_code == 200 and summary.json()["notes"] == 1
    assert all(c["view"] == "deid" for item in summary.json()["findings"] for c in item["citations"]
               if c["type"] == "span")


def test_an_auditor_is_refused_on_every_route_but_the_audit_trail(served: Served):
    refused = 0
    for call in every_route(served):
        response = send(served, call, "auditor")
        if f"{call.method} {call.template}" in AUDITOR_MAY or call.template.startswith("/v1/audit"):
            assert response.status_code != 403 and not any(s in response.text for s in PHI), call.url
        else:
            assert_error(response, 403, "permission_denied")
            refused += 1
    assert served.client.get("/health").status_code == 200
    assert refused > 10 and len(served.denied_entries("auditor-walker")) >= refused


def test_break_glass_for_a_clinician(served: Served):
    url = f"/v1/records/{served.ids['record_id']}"
    headers = served.as_role("clinician")
    assert_error(served.client.get(url, params={"raw": "true"}, headers=headers), 403, "permission_denied")
    read = served.client.get(url, params={"raw": "true", "purpose": "calling the patient"}, headers=headers)
    assert read.status_code == 200 and "Marisol Quenby" in read.json()["notes"][0]["text"]
    by_header = served.client.get(url, params={"raw": "true"}, headers={**headers, "X-Purpose": "medication check"})
    assert by_header.status_code == 200
    note_url = f"/v1/notes/{served.ids['note_id']}/reidentify"
    assert_error(served.client.post(note_url, json={"purpose": " "}, headers=headers), 403, "permission_denied")
    restored = served.client.post(note_url, json={"purpose": "calling the patient"}, headers=headers)
    assert restored.status_code == 200 and "617-555-0142" in restored.json()["text"]

    ctx = Context(served.settings)
    try:
        mine = [e for e in ctx.store.audit.entries(limit=200) if e["actor"] == "clinician-walker"]
    finally:
        ctx.close()
    assert {(e["action"], e["purpose"]) for e in mine if e["outcome"] == "ok"} >= {
        ("read_phi", "calling the patient"), ("read_phi", "medication check"), ("reidentify", "calling the patient")}
    assert {e["details"]["reason"] for e in mine if e["outcome"] == "denied"} == {"no purpose"}


def test_missing_malformed_unknown_and_revoked_keys_get_401(served: Served):
    ctx = Context(served.settings)
    try:
        entry = access.add_principal(ctx, f"temp-{uuid.uuid4().hex[:6]}", "researcher")
        key_entry, key = access.create_key(ctx, entry.name)
        before = len([e for e in ctx.store.audit.entries(limit=2000) if e["action"] == "authenticate"])
        assert served.client.get("/v1/records", headers={"X-API-Key": key}).status_code == 200
        access.revoke_key(ctx, key_entry.id)
        attempts = [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {key}"},
                    {"X-API-Key": key}, {"Authorization": "Bearer clm_0123456789ab_" + "A" * 43}]
        for headers in attempts:
            response = served.client.get("/v1/records", headers=headers)
            assert_error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert key not in response.text
        after = [e for e in ctx.store.audit.entries(limit=2000) if e["action"] == "authenticate"]
    finally:
        ctx.close()
    assert len(after) - before == len(attempts) and all(e["outcome"] == "denied" for e in after)
