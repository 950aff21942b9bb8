"""The CLI obeys the same rules: ``carelm users``/``keys``, ``carelm --key``, the local operator, and a researcher
who cannot read raw text or re-identify by any command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carelm.cli.main import app
from carelm.core.settings import get_settings
from carelm.service.context import Context
from tests.conftest import TEST_KEY, issue_key
from tests.test_access_service import NOTE, PHI, store_made_up_note

runner = CliRunner()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict[str, str]:
    """A SQLite database holding the made-up note, de-identified; with its ids and keys of three roles."""
    folder = tmp_path_factory.mktemp("access-cli")
    settings = get_settings(profile="test", data_dir=folder / "data", secret_key=TEST_KEY,
                            database_url=f"sqlite:///{folder / 'cli.db'}", index_on_process=False)
    ids = store_made_up_note(settings)
    keys = {role: issue_key(settings, role, name=f"{role}-cli") for role in ("researcher", "clinician", "admin")}
    return {**ids, **{f"{role}_key": key for role, key in keys.items()}, "db": settings.database_url}


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CARELM_API_KEY", raising=False)
    monkeypatch.delenv("CARELM_LOCAL_OPERATOR", raising=False)


def carelm(*args: str, key: str | None = None):
    return runner.invoke(app, [*(["--key", key] if key else []), *args])


def audit(db: str) -> list[dict]:
    ctx = Context(get_settings(profile="test", secret_key=TEST_KEY, database_url=db))
    try:
        return ctx.store.audit.entries(limit=1000)
    finally:
        ctx.close()


def test_a_researcher_cannot_read_raw_text_or_reidentify_from_the_cli(stored):
    key, db = stored["researcher_key"], stored["db"]
    attempts = [
        ("show", stored["record_id"], "--db", db, "--raw", "--purpose", "study"),
        ("show", stored["record_id"], "--db", db, "--raw", "--purpose", "study", "--json"),
        ("reidentify", stored["note_id"], "--purpose", "study", "--db", db),
        ("users", "add", "mallory", "--role", "admin", "--db", db),
        ("keys", "create", "researcher-cli", "--db", db),
        ("ingest", "missing.jsonl", "--db", db),
    ]
    for args in attempts:
        result = carelm(*args, key=key)
        assert result.exit_code == 2, (args, result.output)
        assert "role 'researcher' may not" in result.output and not any(s in result.output for s in PHI)
    for args in (("show", stored["record_id"], "--db", db), ("show", stored["record_id"], "--db", db, "--json"),
                 ("records", "--db", db)):
        result = carelm(*args, key=key)
        assert result.exit_code == 0, result.output
        assert not any(s in result.output for s in PHI)
    shown = json.loads(carelm("show", stored["record_id"], "--db", db, "--json", key=key).output)
    assert shown["notes"][0]["text"] is None and "cough" in shown["notes"][0]["deid_text"]
    denied = [e for e in audit(db) if e["actor"] == "researcher-cli" and e["outcome"] == "denied"]
    assert {e["action"] for e in denied} == {"records.read_raw", "records.reidentify", "access.manage",
                                             "records.write"}
    assert len(denied) == len(attempts)


def test_a_clinician_reads_raw_text_with_a_stated_purpose_only(stored, monkeypatch):
    db = stored["db"]
    monkeypatch.setenv("CARELM_API_KEY", stored["clinician_key"])  # the environment instead of --key
    refused = carelm("show", stored["record_id"], "--db", db, "--raw")
    assert refused.exit_code == 2 and "needs a stated purpose" in refused.output
    shown = carelm("show", stored["record_id"], "--db", db, "--raw", "--purpose", "discharge call", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["notes"][0]["text"] == NOTE["text"]
    read = next(e for e in audit(db) if e["actor"] == "clinician-cli" and e["action"] == "read_phi")
    assert read["purpose"] == "discharge call" and read["target_id"] == stored["record_id"]


def test_admins_manage_users_and_keys(stored):
    admin, db = stored["admin_key"], stored["db"]
    assert carelm("users", "add", "nora", "--role", "Researcher", "--db", db, key=admin).exit_code == 0
    created = carelm("keys", "create", "nora", "--expires-days", "30", "--db", db, key=admin)
    assert created.exit_code == 0, created.output
    new_key = created.stdout.strip().splitlines()[-1]
    assert new_key.startswith("clm_")
    listed = carelm("keys", "list", "nora", "--json", "--db", db, key=admin)
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["principal"] == "nora" and row["state"] == "active" and row["expires_at"]
    assert new_key not in listed.output and new_key[-20:] not in listed.output
    assert carelm("records", "--db", db, key=new_key).exit_code == 0
    assert carelm("keys", "revoke", row["id"], "--db", db, key=admin).exit_code == 0
    revoked = carelm("records", "--db", db, key=new_key)
    assert revoked.exit_code == 2 and "unknown, revoked or expired" in revoked.output
    users = carelm("users", "list", "--json", "--db", db, key=admin)
    assert {json.loads(line)["name"] for line in users.stdout.splitlines()} >= {"nora", "admin-cli"}
    assert carelm("users", "disable", "nora", "--db", db, key=admin).exit_code == 0
    assert carelm("users", "list", "--db", db, key=admin).output.count("disabled") == 1
    bad = carelm("users", "add", "olga", "--role", "root", "--db", db, key=admin)
    assert bad.exit_code == 2 and "accepted: admin, clinician, researcher, auditor, service" in bad.output


def test_the_local_operator_acts_without_a_key_unless_turned_off(stored, monkeypatch):
    db = stored["db"]
    result = carelm("users", "add", "lena", "--role", "auditor", "--db", db)
    assert result.exit_code == 0, result.output
    entry = next(e for e in audit(db) if e["action"] == "principal.add" and e["target_id"] == "lena")
    assert entry["actor"].startswith("local:")
    monkeypatch.setenv("CARELM_LOCAL_OPERATOR", "off")
    refused = carelm("records", "--db", db)
    assert refused.exit_code == 2 and "needs an API key" in refused.output
    assert carelm("records", "--db", db, key=stored["researcher_key"]).exit_code == 0
    assert carelm("deid", "-", "--mode", "redact").exit_code == 0  # reads no stored data: needs no principal
