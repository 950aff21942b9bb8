"""Schemathesis against the app's own OpenAPI description: no operation may answer with a server error.

A real uvicorn server serves the app over a SQLite file holding a few made-up, processed records; every
request carries a valid admin API key, so the generated requests reach the routes' own validation and
logic rather than stopping at authentication.  Each operation gets a bounded number of generated cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup

from carelm.api.app import create_app
from carelm.core.settings import Settings
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from tests.conftest import TEST_KEY, issue_key
from tests.server import serving

# Generated cases per operation: valid requests, then requests that break the schema on purpose.
MODES = ((GenerationMode.POSITIVE, 8), (GenerationMode.NEGATIVE, 6))
NOTES = [
    {"id": "st-1", "patient": {"id": "P-st1", "name": "Ada Quill", "birth_date": "1950-03-02"}, "record": "E1",
     "kind": "progress_note", "date": "2024-05-01",
     "text": "HISTORY OF PRESENT ILLNESS:\nAda Quill reports three days of cough and fever. Denies chest pain.\n\n"
             "ASSESSMENT:\nCommunity-acquired pneumonia.\n\nPLAN:\nStart amoxicillin 500 mg PO TID."},
    {"id": "st-2", "patient": {"id": "P-st1", "name": "Ada Quill", "birth_date": "1950-03-02"}, "record": "E2",
     "kind": "discharge_summary", "date": "2024-05-09",
     "text": "DISCHARGE SUMMARY\nPneumonia resolved. No shortness of breath.\n\n"
             "MEDICATIONS:\n1. lisinopril 10 mg daily"},
    {"id": "st-3", "patient": {"id": "P-st2", "name": "Bo Larkspur"}, "kind": "note", "date": "2023-11-20",
     "text": "Type 2 diabetes mellitus, stable on metformin. Possible peripheral neuropathy. Call 555-0142 if worse."},
]


@dataclass
class LiveApi:
    base_url: str
    key: str
    known: dict[str, list[str]]  # real ids by parameter name, put into every other valid case


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[LiveApi]:
    """A real server over a store holding the made-up records, processed, and an admin key."""
    folder = tmp_path_factory.mktemp("schemathesis")
    app_settings = Settings(profile="test", data_dir=folder / "data", secret_key=TEST_KEY, rate_limit_per_second=0)
    trusted = Context(app_settings, actor="test")  # a trusted in-process caller, as `issue_key` uses
    try:
        record_ids = [ingest_payload(trusted, note).record_ids[0] for note in NOTES]
        assert process_notes(trusted).notes_done == len(NOTES)
        stored = [trusted.store.records.get_record(record_id) for record_id in dict.fromkeys(record_ids)]
    finally:
        trusted.close()
    key = issue_key(app_settings, "admin")
    with serving(create_app(app_settings)) as client:
        auth = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/records", headers=auth).json()["total"] == len(stored) == 3
        nodes = client.get("/v1/kg/nodes", params={"q": "pneumonia"}, headers=auth).json()["items"]
        known = {"record_id": [r.id for r in stored], "note_id": [n.id for r in stored for n in r.notes],
                 "patient_id": ["P-st1", "P-st2"], "node_id": [node["id"] for node in nodes[:2]]}
        yield LiveApi(str(client.base_url), key, known)


def _with_known_ids(case, known: dict[str, list[str]], turn: int) -> None:
    """Replace generated ids (path parameters, top-level body fields) with ids of stored data."""
    for name, values in known.items():
        if not values:
            continue
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = values[turn % len(values)]
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = values[turn % len(values)]


def _run_operation(operation, mode: GenerationMode, api: LiveApi, examples: int) -> tuple[list[str], list[int]]:
    """Send ``examples`` generated cases of one operation: (a description of every server error, the statuses).

    Failures are collected rather than raised, so one run reports all of them, and nothing is shrunk.
    """
    found: list[str] = []
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        if mode is GenerationMode.POSITIVE and len(statuses) % 2:
            _with_known_ids(case, api.known, len(statuses) // 2)
        response = case.call(base_url=api.base_url, headers={"Authorization": f"Bearer {api.key}"}, timeout=120)
        statuses.append(response.status_code)
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:
            request = case.as_curl_command(headers={"Authorization": "Bearer <admin key>"}, base_url=api.base_url)
            found.append(f"{operation.label} ({mode.value}) -> {response.status_code}: {request}")

    run()
    assert statuses, f"{operation.label}: no case was sent"
    assert statuses.count(401) < len(statuses), f"{operation.label}: the admin key was not accepted"
    return found, statuses


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(live_api):
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"GET /health", "POST /v1/deidentify", "GET /v1/records/{record_id}"} <= labels
    failures, statuses = [], {}
    for operation in operations:
        for mode, examples in MODES:
            found, statuses[operation.label, mode] = _run_operation(operation, mode, live_api, examples)
            failures += found
    # the stored ids put into valid cases reach the data, not only the 404 branch
    for label in ("GET /v1/records/{record_id}", "POST /v1/summaries"):
        assert 200 in statuses[label, GenerationMode.POSITIVE], (label, statuses[label, GenerationMode.POSITIVE])
    assert not failures, f"{len(failures)} server error(s):\n" + "\n".join(failures)
