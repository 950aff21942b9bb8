"""``carelm summarize`` and ``POST /v1/summaries`` against the filled SQLite store (real server, real CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from carelm.api.app import create_app
from carelm.cli.main import app
from carelm.core.settings import Settings
from tests.conftest import TEST_KEY
from tests.server import serving
from tests.test_api import assert_error_body
from tests.test_summary import prepared_settings

pytestmark = pytest.mark.slow  # reads the store filled by tests.test_summary.prepared_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def settings_filled(tmp_path_factory) -> Settings:
    return prepared_settings(tmp_path_factory)


@pytest.fixture(scope="module")
def api(settings_filled: Settings) -> Iterator[httpx.Client]:
    with serving(create_app(settings_filled)) as client:
        yield client


@pytest.fixture
def cli_env(settings_filled: Settings, monkeypatch) -> str:
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(settings_filled.data_dir))
    return settings_filled.resolved_database_url


def test_post_summary_returns_items_with_resolving_citations(api: httpx.Client):
    response = api.post("/v1/summaries", json={"patient_id": "QM-4471"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["report"] is None and body["text"].startswith("# Patient summary")
    terms = {item["term"].lower(): item for item in body["findings"]}
    assert terms["chest pain"]["status"] == "negated" and terms["chest pain"]["id"] in body["pertinent_negatives"]
    span = terms["cough"]["citations"][0]
    assert span["type"] == "span" and span["view"] == "deid" and "ough" in span["quote"]
    record = api.get("/v1/records", params={"patient_id": body["patient_id"]}).json()
    texts = {note["id"]: note["deid_text"] for r in record["items"] for note in r["notes"]}
    for category in ("problems", "findings", "medications", "allergies", "family_history"):
        for item in body[category]:
            assert item["citations"]
            for cited in item["citations"]:
                if cited["type"] == "span":
                    assert texts[cited["document_id"]][cited["start"]:cited["end"]] == cited["quote"]
    again = api.post("/v1/summaries", json={"patient_id": body["patient_id"]}).json()
    assert again["problems"] == body["problems"]  # the stored id names the same patient


def test_post_summary_with_a_report(api: httpx.Client):
    body = api.post("/v1/summaries", json={"patient_id": "QM-4471", "report": "referral"}).json()
    report = body["report"]
    assert report["kind"] == "referral" and report["text"].startswith("# Referral letter")
    assert [s["id"] for s in report["sections"]][:2] == ["reason", "problems"]
    assert all(st["markers"] for s in report["sections"] for st in s["statements"])


def test_unknown_patient_and_bad_requests(api: httpx.Client):
    error = assert_error_body(api.post("/v1/summaries", json={"patient_id": "nobody"}), 404, "not_found")
    assert error["location"] == "patient_id"
    assert_error_body(api.post("/v1/summaries", json={"patient_id": "QM-4471", "report": "letter"}), 422,
                      "invalid_input")
    assert_error_body(api.post("/v1/summaries", json={"patient_id": "QM-4471", "extra": 1}), 422, "invalid_input")


def test_cli_prints_markdown_json_and_writes_a_report(cli_env: str, tmp_path):
    shown = runner.invoke(app, ["summarize", "QM-4471", "--db", cli_env])
    assert shown.exit_code == 0, shown.output
    assert "## Pertinent negatives" in shown.stdout and "## Sources" in shown.stdout
    as_json = runner.invoke(app, ["summarize", "QM-4471", "--json", "--db", cli_env])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert payload["allergies"] and all(item["citations"] for item in payload["allergies"])
    out = tmp_path / "discharge.md"
    written = runner.invoke(app, ["summarize", "QM-4471", "--report", "discharge", "--out", str(out), "--db", cli_env])
    assert written.exit_code == 0, written.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Discharge summary") and "## Medications" in text
    assert not (tmp_path / "discharge.md.partial").exists()


def test_cli_errors(cli_env: str):
    unknown = runner.invoke(app, ["summarize", "nobody", "--db", cli_env])
    assert unknown.exit_code == 2 and "error:" in unknown.output and "no patient with this id" in unknown.output
    polish = runner.invoke(app, ["summarize", "QM-4471", "--polish", "--db", cli_env])
    assert polish.exit_code == 2 and "--report" in polish.output
