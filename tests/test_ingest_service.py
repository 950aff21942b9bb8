"""Ingest through the service into a real store: partial acceptance, idempotency, SIGKILL safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from carelm.core.settings import Settings
from carelm.service.context import Context
from carelm.service.ingest import ingest_path, ingest_payload
from carelm.store.models import NoteRow, RecordItemRow
from carelm.store.store import Store
from tests.conftest import TEST_KEY, issue_key


def bundle_with_bad_condition() -> dict:
    note = "Clinic visit. Patient reports wheezing at night. No chest pain."
    import base64

    return {
        "resourceType": "Bundle", "id": "b-1", "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "pt-9", "name": [{"given": ["Test"], "family": "Person"}],
                          "birthDate": "1970-02-03"}},
            {"resource": {"resourceType": "DocumentReference", "status": "current",
                          "subject": {"reference": "Patient/pt-9"},
                          "content": [{"attachment": {"contentType": "text/plain",
                                                      "data": base64.b64encode(note.encode()).decode()}}]}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pt-9"},
                          "code": {"text": "Asthma"}}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pt-9"}, "code": 42}},
            {"resource": {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/pt-9"},
                          "code": {"text": "Penicillin"}}},
        ],
    }


def test_malformed_fhir_entry_is_named_and_valid_entries_are_stored(ctx: Context):
    report = ingest_payload(ctx, bundle_with_bad_condition(), location="upload.json")
    assert len(report.issues) == 1
    issue = report.issues[0]
    assert issue.location.startswith("upload.json#entry[3] Condition")
    assert "code" in issue.location + issue.message
    assert report.notes_added == 1 and report.records_added == 1
    record = ctx.store.records.get_record(report.record_ids[0])
    assert [i.kind for i in record.items] == ["condition", "allergy"]
    assert "wheezing" in record.notes[0].text


def test_reingesting_the_same_files_is_a_noop(ctx: Context, tmp_path):
    path = tmp_path / "notes.jsonl"
    lines = [{"id": f"n{i}", "patient": f"p{i % 3}", "record": f"e{i % 4}", "kind": "progress_note",
              "text": f"Follow-up visit {i}. Blood pressure improved."} for i in range(12)]
    lines.append({"id": "bad", "patient": "p1"})  # no text
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    first = ingest_path(ctx, path)
    assert (first.notes_added, first.notes_skipped, len(first.issues)) == (12, 0, 1)
    assert first.issues[0].location == f"{path}:13"
    before = ctx.store.stats()
    second = ingest_path(ctx, path)
    assert (second.notes_added, second.notes_skipped, second.records_added) == (0, 12, 0)
    assert ctx.store.stats() == before
    assert before["patients"] == 3


def _write_many(path, count: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            fh.write(json.dumps({"id": f"n{i}", "patient": f"p{i % 50}",
                                 "text": f"Progress note {i}: stable overnight, tolerating diet."}) + "\n")


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELM_")}
    env.update(CARELM_PROFILE="test", CARELM_SECRET_KEY=TEST_KEY, CARELM_DATA_DIR=str(settings.data_dir),
               CARELM_DATABASE_URL=settings.resolved_database_url, CARELM_LOG_LEVEL="WARNING")
    return env


def _note_count(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(NoteRow)) or 0


def test_ingest_killed_with_sigkill_then_rerun_keeps_one_copy(backend_settings: Settings, tmp_path):
    total = 3000
    path = tmp_path / "many.jsonl"
    _write_many(path, total)
    store = Store.open(backend_settings)  # migrate first so the child only inserts
    # the pipeline's own principal: PostgreSQL has no local operator, so the CLI acts with a key
    env = _cli_env(backend_settings) | {"CARELM_API_KEY": issue_key(backend_settings, "service")}
    child = subprocess.Popen([sys.executable, "-m", "carelm", "ingest", str(path)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _note_count(store) < 50 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    at_kill = _note_count(store)
    assert 0 < at_kill < total, "the ingest must have been interrupted part-way"

    rerun = subprocess.run([sys.executable, "-m", "carelm", "ingest", str(path)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _note_count(store) == total
    texts = [n.text for batch in store.records.iter_notes(None, 500) for n in batch]
    assert len(texts) == len(set(texts)) == total
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RecordItemRow)) == 0
    store.close()
