"""``POST /v1/erasures``, ``GET /v1/erasures/{id}`` and ``GET /v1/compliance/report`` on a real server."""

from __future__ import annotations

import json

import httpx

from carelm.api.app import create_app
from carelm.core.pipeline import Pipeline
from carelm.core.settings import Settings
from carelm.lifecycle.erasure_certificate import verify
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from tests.server import serving

NOTES = [
    {"id": "api-1", "patient": {"id": "MRN-AP-1111", "name": "Leontyne Farquharson"}, "kind": "progress_note",
     "text": "HPI:\nLeontyne Farquharson reports a sore throat.\nPLAN:\nFluids and rest."},
    {"id": "api-2", "patient": {"id": "MRN-AP-2222"}, "kind": "progress_note",
     "text": "HPI:\nAnkle sprain while running.\nPLAN:\nRest, ice, compression."},
]


def prepared(settings: Settings) -> Settings:
    settings = settings.model_copy(update={"index_on_process": False, "rate_limit_per_second": 0})
    ctx = Context(settings, actor="test")
    try:
        for note in NOTES:
            ingest_payload(ctx, note)
        process_notes(ctx, Pipeline.from_names(["carelm.normalize.v1", "carelm.sections.v1", "carelm.deid.v1"]))
    finally:
        ctx.close()
    return settings


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def test_erasure_and_report_over_http(settings: Settings):
    settings = prepared(settings)
    with serving(create_app(settings)) as admin:
        created = admin.post("/v1/erasures", json={"patient": "MRN-AP-1111", "reason": "data subject request"})
        assert created.status_code == 201, created.text
        certificate = created.json()
        assert verify(certificate) and certificate["removed"]["notes"] == 1 and not certificate["already_erased"]
        again = admin.post("/v1/erasures", json={"patient": "MRN-AP-1111", "reason": "repeated"})
        assert again.status_code == 200 and again.json()["already_erased"] and again.json()["removed"] == {}
        stored = admin.get(f"/v1/erasures/{certificate['certificate_id']}")
        assert stored.status_code == 200 and stored.json() == certificate
        assert error_code(admin.get("/v1/erasures/" + "0" * 32)) == "not_found"
        assert error_code(admin.post("/v1/erasures", json={"patient": "MRN-NOBODY", "reason": "x"})) == "not_found"
        missing = admin.post("/v1/erasures", json={"patient": "MRN-AP-2222"})
        assert missing.status_code == 422 and error_code(missing) == "invalid_input"
        report = admin.get("/v1/compliance/report", params={"check": ["completeness", "duplicates"]})
        assert report.status_code == 200 and report.json()["totals"]["notes"] == 1
        assert set(report.json()["checks"]) == {"completeness", "duplicates"}
        bad = admin.get("/v1/compliance/report", params={"check": "spelling"})
        assert bad.status_code == 422 and bad.json()["error"]["location"] == "checks"
    with serving(create_app(settings), role="auditor") as auditor:
        assert auditor.get("/v1/compliance/report").status_code == 200
        refused = auditor.post("/v1/erasures", json={"patient": "MRN-AP-2222", "reason": "not allowed"})
        assert refused.status_code == 403 and error_code(refused) == "permission_denied"
    with serving(create_app(settings), role="researcher") as researcher:
        assert researcher.get("/v1/compliance/report").status_code == 403
    ctx = Context(settings, actor="test")
    try:
        assert ctx.store.records.count_records() == 1  # the refused erasure removed nothing
    finally:
        ctx.close()


def test_cli_erase_prints_and_writes_the_certificate(settings: Settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from carelm.cli.main import app

    settings = prepared(settings)
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("CARELM_DATA_DIR", str(settings.data_dir))
    db = ["--db", settings.resolved_database_url]
    out = tmp_path / "certificate.json"
    runner = CliRunner()
    result = runner.invoke(app, ["erase", "--patient", "MRN-AP-1111", "--reason", "request 42", "--out", str(out), *db])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # logs go to standard error
    assert printed == json.loads(out.read_text(encoding="utf-8")) and verify(printed)
    assert printed["removed"]["patients"] == 1 and printed["requested_by"].startswith("local:")
    again = json.loads(runner.invoke(app, ["erase", "--patient", "MRN-AP-1111", "--reason", "again", *db]).stdout)
    assert again["already_erased"] and again["previous_certificates"] == [printed["certificate_id"]]
    unknown = runner.invoke(app, ["erase", "--patient", "MRN-NOBODY", "--reason", "typo", *db])
    assert unknown.exit_code == 2 and "no stored patient" in unknown.output
