"""Exporting the audit trail (JSONL, CSV, time windows; the export is itself audited), verifying an export file,
and the ``carelm audit`` commands on a real SQLite file."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from carelm.cli.main import app
from carelm.core.errors import InputError
from carelm.service import audit as audit_service
from carelm.service.context import Context
from tests.conftest import TEST_KEY

runner = CliRunner()


def fill(ctx: Context, count: int = 5) -> None:
    for i in range(1, count + 1):
        ctx.store.audit.record(f"user{i}", "read_phi", "record", f"rec-{i}", purpose="=SUM(A1)" if i == 2 else "care",
                               details={"n": i})


def set_times(ctx: Context, days_ago: dict[int, int]) -> None:
    """Move entries back in time (raw SQL) and re-chain them, as if they had been written then."""
    from carelm.store.audit import chain_fields, entry_hash

    now = datetime.now(UTC).replace(microsecond=0)
    entries = list(ctx.store.audit.iter_entries())
    prev = entries[0]["prev_hash"]
    with ctx.store.engine.begin() as conn:
        for entry in entries:
            at = now - timedelta(days=days_ago.get(entry["id"], 0))
            entry = {**entry, "at": at}
            digest = entry_hash(prev, chain_fields(entry))
            stored = at if ctx.store.backend == "postgresql" else at.replace(tzinfo=None).isoformat(" ")
            conn.execute(text("UPDATE audit_events SET at = :at, prev_hash = :p, hash = :h WHERE id = :id"),
                         {"at": stored, "p": prev, "h": digest, "id": entry["id"]})
            prev = digest
    ctx.store.audit_checkpoint.reset(entries[-1]["id"], prev)


def test_jsonl_export_has_every_entry_verifies_and_is_audited(ctx: Context, tmp_path):
    fill(ctx)
    out = tmp_path / "audit.jsonl"
    report = audit_service.export_log(ctx, out, "jsonl")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert report.entries == len(lines) == 5 and (report.first_id, report.last_id) == (1, 5)
    assert list(lines[0]) == list(audit_service.COLUMNS)
    assert lines[1]["purpose"] == "=SUM(A1)" and lines[0]["details"] == {"n": 1}
    assert not out.with_name("audit.jsonl.partial").exists()
    event = ctx.store.audit.entries(limit=1)[0]
    assert event["id"] == report.event_id and event["action"] == "audit.export"
    assert event["details"] == {"format": "jsonl", "since": None, "until": None, "file": "audit.jsonl",
                                "entries": 5, "first_id": 1, "last_id": 5}
    checked = audit_service.verify_file(out)
    assert checked.ok and checked.entries == 5 and checked.head_id == 5
    assert audit_service.verify_log(ctx).ok


def test_csv_export_guards_formulas_and_keeps_details_as_json(ctx: Context, tmp_path):
    fill(ctx, 3)
    out = tmp_path / "audit.csv"
    audit_service.export_log(ctx, out, "csv")
    with out.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [int(r["id"]) for r in table] == [1, 2, 3] and list(table[0]) == list(audit_service.COLUMNS)
    assert table[1]["purpose"] == "'=SUM(A1)" and json.loads(table[2]["details"]) == {"n": 3}
    assert table[0]["target_id"] == "rec-1" and len(table[0]["hash"]) == 64


def test_since_and_until_select_a_window_and_an_excerpt_still_verifies(ctx: Context, tmp_path):
    fill(ctx, 6)
    set_times(ctx, {1: 30, 2: 20, 3: 10, 4: 10, 5: 2})
    assert audit_service.verify_log(ctx).ok
    today = datetime.now(UTC).date()
    out = tmp_path / "window.jsonl"
    report = audit_service.export_log(ctx, out, "jsonl", since=str(today - timedelta(days=20)),
                                      until=str(today - timedelta(days=10)))
    assert (report.entries, report.first_id, report.last_id) == (3, 2, 4)
    assert audit_service.verify_file(out).ok
    lines = out.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["actor"] = "mallory"
    out.write_text("\n".join([lines[0], json.dumps(edited), lines[2]]) + "\n")
    failed = audit_service.verify_file(out)
    assert [(p.entry_id, p.kind) for p in failed.problems] == [(3, "hash_mismatch")]
    out.write_text("\n".join([lines[2], lines[0]]) + "\n")
    assert [(p.entry_id, p.kind) for p in audit_service.verify_file(out).problems] == [(2, "out_of_order"),
                                                                                        (2, "broken_link")]
    out.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert [(p.entry_id, p.kind) for p in audit_service.verify_file(out).problems] == [(3, "missing"),
                                                                                        (4, "broken_link")]


@pytest.mark.parametrize(("kwargs", "location"), [
    ({"fmt": "xml"}, "format"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2024-13-01"}, "until"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "since"),
])
def test_bad_export_options_are_input_errors(sqlite_ctx: Context, tmp_path, kwargs, location):
    with pytest.raises(InputError) as err:
        audit_service.export_log(sqlite_ctx, tmp_path / "x.jsonl", **kwargs)
    assert err.value.location == location
    assert not (tmp_path / "x.jsonl").exists()


def test_parse_head_accepts_hash_or_id_and_hash():
    digest = "a" * 64
    assert audit_service.parse_head(digest) == (None, digest)
    assert audit_service.parse_head(f"12:{digest.upper()}") == (12, digest)
    with pytest.raises(InputError):
        audit_service.parse_head("12:abc")


# --- the command line --------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    for name in ("CARELM_API_KEY", "CARELM_PREVIOUS_KEYS", "CARELM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_cli_verify_export_and_verify_the_file(env):
    db = f"sqlite:///{env / 'cli.db'}"
    notes = env / "notes.jsonl"
    notes.write_text(json.dumps({"id": "n1", "patient": "P-1", "text": "Cough for three days."}) + "\n")
    assert runner.invoke(app, ["ingest", str(notes), "--db", db]).exit_code == 0
    verified = runner.invoke(app, ["audit", "verify", "--db", db])
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output and "checkpoint: entry" in verified.output
    out = env / "trail.csv"
    exported = runner.invoke(app, ["audit", "export", "--format", "csv", "--out", str(out), "--db", db])
    assert exported.exit_code == 0, exported.output
    assert "recorded as audit entry" in exported.output and out.read_text().startswith("id,at,actor")
    jsonl = env / "trail.jsonl"
    assert runner.invoke(app, ["audit", "export", "--out", str(jsonl), "--db", db]).exit_code == 0
    report = runner.invoke(app, ["audit", "verify", "--file", str(jsonl), "--json"])
    assert report.exit_code == 0 and json.loads(report.stdout)["ok"] is True


def test_cli_verify_names_the_tampered_entry_and_exits_1(env):
    db = f"sqlite:///{env / 'cli.db'}"
    from carelm.core.settings import get_settings

    ctx = Context(get_settings(database_url=db), actor="test")
    fill(ctx, 4)
    head = audit_service.verify_log(ctx).head
    with ctx.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET purpose = 'other' WHERE id = 3"))
    ctx.close()
    result = runner.invoke(app, ["audit", "verify", "--db", db, "--expect-head", head])
    assert result.exit_code == 1
    assert "entry 3" in result.output and "hash_mismatch" in result.output and "FAILED" in result.output
    body = runner.invoke(app, ["audit", "verify", "--db", db, "--json"])
    assert body.exit_code == 1
    assert [(p["entry_id"], p["kind"]) for p in json.loads(body.stdout)["problems"]] == [(3, "hash_mismatch")]
    bad = runner.invoke(app, ["audit", "verify", "--db", db, "--expect-head", "nope"])
    assert bad.exit_code == 2 and "64 hex digits" in bad.output
