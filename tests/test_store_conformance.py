"""Storage conformance suite: every test runs against SQLite and a real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, select, update

from carelm.core.errors import CryptoError, NotFoundError
from carelm.core.types import Note, Patient, Record, RecordItem, Span
from carelm.store import db
from carelm.store.audit import GENESIS, entry_hash
from carelm.store.models import AnnotationRow, AuditEventRow, Base, NoteRow, PatientRow
from carelm.store.store import Store

TEXT_A = "HPI:\nPatient reports a dry cough for two weeks. No fever.\nPLAN:\nChest x-ray."
TEXT_B = "Nursing note: resting comfortably, pain 2/10."


def make_record(patient="P-1", texts=(TEXT_A,), external_id=None, items=()) -> Record:
    notes = [Note(text=t, kind="progress_note", title="Visit", authored_at=datetime(2024, 5, 1, 9, 30)) for t in texts]
    return Record(patient=Patient(patient, name="Test Person"), notes=notes, external_id=external_id,
                  items=list(items), source="unit-test")


def test_schema_is_at_head_and_matches_models(store: Store):
    current, head = db.schema_revision(store.engine)
    assert current == head == "0007"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_reopening_migrates_nothing_and_keeps_data(store: Store, backend_settings):
    store.records.save_record(make_record())
    again = Store.open(backend_settings)
    assert again.stats()["notes"] == 1
    again.close()


def test_save_record_is_idempotent(store: Store):
    first = store.records.save_record(make_record(texts=(TEXT_A, TEXT_B)))
    assert (first.notes_added, first.notes_skipped, first.record_created) == (2, 0, True)
    second = store.records.save_record(make_record(texts=(TEXT_A, TEXT_B)))
    assert second.record_id == first.record_id
    assert (second.notes_added, second.notes_skipped, second.record_created) == (0, 2, False)
    assert store.stats()["notes"] == 2


def test_same_patient_is_stored_once_and_records_group_by_external_id(store: Store):
    a = store.records.save_record(make_record(texts=(TEXT_A,), external_id="enc-1"))
    b = store.records.save_record(make_record(texts=(TEXT_B,), external_id="enc-1"))
    c = store.records.save_record(make_record(patient="P-2", texts=(TEXT_B,)))
    assert a.record_id == b.record_id and b.notes_added == 1
    assert a.patient_id == b.patient_id != c.patient_id
    stats = store.stats()
    assert (stats["patients"], stats["records"], stats["notes"]) == (2, 2, 3)
    assert [n.char_count for n in store.records.get_record(a.record_id).notes] == [len(TEXT_A), len(TEXT_B)]


def test_list_count_paginate_and_filter(store: Store):
    ids = [store.records.save_record(make_record(patient=f"P-{i}", texts=(f"note {i}",))).record_id for i in range(5)]
    page = store.records.list_records(limit=2, offset=1)
    assert [r.id for r in page] == ids[1:3]
    assert all(r.note_count == 1 for r in page)
    assert store.records.count_records() == 5
    one = store.records.get_record(ids[3])
    assert store.records.count_records(one.patient_id) == 1
    assert [r.id for r in store.records.list_records(patient_id=one.patient_id)] == [ids[3]]


def test_get_record_returns_text_layers_and_items(store: Store):
    record = make_record(items=[RecordItem(kind="condition", display="Asthma", code="J45.909", system="icd10")])
    record.notes[0].layers["gold.mentions"] = [Span(15, 24, "SYMPTOM", {"negated": False})]
    saved = store.records.save_record(record)
    got = store.records.get_record(saved.record_id)
    note = got.notes[0]
    assert note.text == TEXT_A and note.kind == "progress_note" and note.status == "ingested"
    assert note.layers["gold.mentions"][0].attributes == {"negated": False}
    assert note.layers["gold.mentions"][0].stage == "ingest"
    assert [(i.kind, i.code) for i in got.items] == [("condition", "J45.909")]
    assert store.records.get_record(saved.record_id, include_text=False).notes[0].text is None
    assert store.records.patient_identity(saved.patient_id)["external_id"] == "P-1"
    with pytest.raises(NotFoundError):
        store.records.get_record("missing")


def test_iter_notes_decrypts_in_batches_and_filters_status(store: Store):
    for i in range(5):
        store.records.save_record(make_record(patient=f"P-{i}", texts=(f"text number {i}",)))
    batches = list(store.records.iter_notes(None, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(n.text for b in batches for n in b) == [f"text number {i}" for i in range(5)]
    store.records.mark_failed([batches[0][0].id], None)
    assert store.records.count_notes(("failed",)) == 1
    assert [n.id for b in store.records.iter_notes(("failed",), 10) for n in b] == [batches[0][0].id]


def test_save_processed_replaces_layers_and_keeps_ingest_layers(store: Store):
    record = make_record()
    record.notes[0].layers["gold.sections"] = [Span(0, 10, "hpi")]
    store.records.save_record(record)
    run_id = store.runs.start({"stages": []}, "fp", 1)
    for _attempt in range(2):
        [note] = next(store.records.iter_notes(None, 10))
        note.layers["sections"] = [Span(0, 20, "hpi", stage="carelm.sections.v1")]
        note.views["deid"] = "X" * len(note.text)
        store.records.save_processed([note], ["sections", "deid"], run_id)
    got = store.records.get_record(record.id).notes[0]
    assert [s.label for s in got.layers["sections"]] == ["hpi"]
    assert set(got.layers) == {"sections", "gold.sections"}
    assert got.status == "processed" and got.deid_text == "X" * len(TEXT_A)
    store.runs.finish(run_id, done=1, failed=0, failures=[], status="done")
    assert store.runs.latest()[0]["notes_done"] == 1


def test_raw_text_and_identity_are_encrypted(store: Store):
    store.records.save_record(make_record(texts=("Patient reports a dry cough for two weeks.",)))
    with store.sessions() as session:
        blob = session.scalar(select(NoteRow.raw_text_enc))
        identity = session.scalar(select(PatientRow.identity_enc))
    assert b"dry cough" not in blob and b"Test Person" not in identity
    assert len(blob) > len("Patient reports a dry cough for two weeks.")


def test_ciphertext_moved_to_another_row_fails_authentication(store: Store):
    store.records.save_record(make_record(patient="P-1", texts=("first secret note",)))
    store.records.save_record(make_record(patient="P-2", texts=("second secret note",)))
    with store.sessions.begin() as session:
        rows = session.execute(select(NoteRow.id, NoteRow.raw_text_enc).order_by(NoteRow.id)).all()
        session.execute(update(NoteRow).where(NoteRow.id == rows[0].id).values(raw_text_enc=rows[1].raw_text_enc))
    with pytest.raises(CryptoError):
        list(store.records.iter_notes(None, 10))


def test_deleting_a_note_cascades_to_its_annotations(store: Store):
    record = make_record()
    record.notes[0].layers["gold.phi"] = [Span(0, 3, "NAME")]
    store.records.save_record(record)
    with store.sessions.begin() as session:
        session.execute(delete(NoteRow))
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnnotationRow)) == 0


def test_audit_entries_are_hash_chained(store: Store):
    store.audit.record("alice", "read_phi", "record", "r1", purpose="care")
    store.audit.record("bob", "ingest", "path", None, details={"notes_added": 3})
    with store.sessions() as session:
        rows = session.scalars(select(AuditEventRow).order_by(AuditEventRow.id)).all()
    assert rows[0].prev_hash == GENESIS and rows[1].prev_hash == rows[0].hash
    fields = {"at": rows[1].at, "actor": "bob", "action": "ingest", "target_type": "path", "target_id": None,
              "purpose": None, "outcome": "ok", "details": {"notes_added": 3}}
    assert len(rows[1].hash) == 64 and rows[1].hash != entry_hash(rows[0].hash, {**fields, "actor": "eve"})
    assert [e["actor"] for e in store.audit.entries()] == ["bob", "alice"]


def test_stats_count_annotations_by_layer(store: Store):
    record = make_record()
    record.notes[0].layers["gold.phi"] = [Span(0, 3, "NAME"), Span(5, 9, "DATE")]
    record.notes[0].layers["gold.sections"] = [Span(0, 10, "hpi")]
    store.records.save_record(record)
    stats = store.stats()
    assert stats["annotations"] == {"gold.phi": 2, "gold.sections": 1}
    assert stats["patients"] == stats["records"] == stats["notes"] == 1


def test_note_codes_are_stored_and_replaced_on_reprocessing(store: Store):
    from carelm.core.types import Code

    store.records.save_record(make_record())
    for codes in ([("I10", 0.9), ("R05.9", 0.8)], [("J18.9", 0.7)]):
        [note] = next(store.records.iter_notes(None, 10))
        note.codes = [Code("ICD-10-CM", c, display=None, score=s, stage="carelm.icd10.v1") for c, s in codes]
        store.records.save_processed([note], ["codes"], None)
    assert [c["code"] for c in store.records.note_codes(note.id)] == ["J18.9"]
    assert store.stats()["codes"] == 1
