"""Logs carry ids and counts, never note text."""

from __future__ import annotations

import logging

from carelm.core.logging import KeyValueFormatter
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from carelm.service.records import get_record

SECRET_SENTENCE = "Patient Zanzibar Quixote reports numbness in the left hand."


def test_no_note_text_reaches_the_logs(sqlite_ctx: Context, caplog):
    formatter = KeyValueFormatter()
    caplog.set_level(logging.DEBUG, logger="carelm")
    ingest_payload(sqlite_ctx, {"id": "l1", "patient": {"id": "P-log", "name": "Zanzibar Quixote"},
                                "text": "HPI:\n" + SECRET_SENTENCE})
    bad = ingest_payload(sqlite_ctx, {"id": "l2", "text": SECRET_SENTENCE, "unexpected": SECRET_SENTENCE})
    assert bad.issues
    report = process_notes(sqlite_ctx)
    record_id = sqlite_ctx.store.records.list_records()[0].id
    assert "numbness" in get_record(sqlite_ctx, record_id).notes[0].text
    assert report.notes_done == 1
    lines = [formatter.format(r) for r in caplog.records]
    assert any("record_id=" in line for line in lines), "records are logged by id"
    for line in lines:
        assert "Zanzibar" not in line and "numbness" not in line
