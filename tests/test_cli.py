"""The command line, run in-process with Typer's runner against a real SQLite file."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from carelm.cli.main import app
from tests.conftest import TEST_KEY

runner = CliRunner()
NOTE_TEXT = "HPI:\nCough for three days. No fever.\nPLAN:\nFluids and rest."


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


def test_every_command_that_touches_the_database_takes_db():
    commands = typer.main.get_command(app).commands
    assert {"init", "ingest", "process", "show", "serve", "demo"} <= set(commands)
    for name, command in commands.items():
        if name in ("synth", "stages", "deid", "extract", "resources", "diagnose", "treatments", "interactions"):
            continue
        for path, leaf in [(f"{name} {sub}", c) for sub, c in getattr(command, "commands", {}).items()] or [
            (name, command)
        ]:
            if path in ("kg mine", "kg examples"):  # abstracts or corpora into files; no database
                continue
            options = {opt for param in leaf.params for opt in param.opts}
            assert "--db" in options, f"{path} lacks --db"


def test_init_ingest_process_show(env):
    db = f"sqlite:///{env / 'cli.db'}"
    notes = env / "notes.jsonl"
    notes.write_text(json.dumps({"id": "c1", "patient": "P-c", "text": NOTE_TEXT}) + "\n"
                     + json.dumps({"id": "c2", "patient": "P-c"}) + "\n", encoding="utf-8")
    assert invoke("init", "--db", db).exit_code == 0
    result = invoke("ingest", str(notes), "--db", db)
    assert result.exit_code == 0, result.output
    assert "1 new note(s)" in result.output and "1 rejected" in result.output
    assert f"{notes}:2" in result.output and "text" in result.output
    result = invoke("process", "--db", db)
    assert result.exit_code == 0 and "1 note(s) processed" in result.output
    listing = invoke("records", "--db", db)
    record_id = listing.output.split()[0]
    shown = invoke("show", record_id, "--db", db, "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert [s["label"] for s in detail["notes"][0]["layers"]["sections"]] == ["hpi", "plan"]
    stats = json.loads(invoke("stats", "--db", db).output)
    assert stats["notes"] == 1 and stats["annotations"]["sentences"] >= 3


def test_errors_are_one_line_with_exit_status_2(env):
    result = invoke("show", "no-such-record", "--db", f"sqlite:///{env / 'x.db'}")
    assert result.exit_code == 2
    assert "no record with id" in result.output and "Traceback" not in result.output
    result = invoke("ingest", str(env / "missing.jsonl"))
    assert result.exit_code == 2 and "no such file or folder" in result.output
    result = invoke("process", "--db", "mysql://nowhere/x")
    assert result.exit_code == 2 and "unsupported database" in result.output


def test_unknown_stage_lists_the_registered_ones(env):
    result = invoke("process", "--stage", "carelm.nothing.v1")
    assert result.exit_code == 2
    assert "carelm.sections.v1" in result.output


def test_stages_lists_layers():
    result = invoke("stages")
    assert "carelm.sentences.v1: reads ['normalized', 'sections'] writes ['sentences']" in result.output


@pytest.mark.slow
def test_resources_build_writes_a_terminology_without_shared_data(env, monkeypatch):
    import gzip

    monkeypatch.setenv("CARELM_SHARED_DATA", str(env / "absent"))
    out = env / "terms.jsonl.gz"
    result = invoke("resources", "build", "--out", str(out))
    assert result.exit_code == 0, result.output
    with gzip.open(out, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        entries = [json.loads(line) for line in fh]
    assert header["shared_data"] is False and header["entries"] == len(entries) > 10_000
    assert {e["source"] for e in entries} == {"carelm", "icd10cm"}
    assert any(e["term"].lower() == "hypertension" for e in entries)
