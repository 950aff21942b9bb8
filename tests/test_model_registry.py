"""Model registry and training lineage: every test runs against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select

from carelm.core.errors import InputError, NotFoundError
from carelm.core.types import Note, Patient, Record
from carelm.store import db
from carelm.store.models import Base, ModelRow, ModelTrainingRecordRow, PatientRow
from carelm.store.registry import ModelEntry, record_ids_of_notes, snapshot_hash
from carelm.store.store import Store


def save_records(store: Store, patient: str, count: int) -> list[str]:
    """Ingest ``count`` one-note records for a patient; their record ids in order."""
    records = [
        Record(patient=Patient(patient, name="Test Person"), external_id=f"{patient}-enc-{i}", source="unit-test",
               notes=[Note(text=f"Visit {i} of {patient}: cough, no fever.", kind="progress_note")])
        for i in range(count)
    ]
    return [result.record_id for result in store.records.save_records(records)]


def audit_actions(store: Store) -> list[tuple[str, str | None]]:
    return [(e["action"], e["target_id"]) for e in reversed(store.audit.entries(limit=1000))]


def test_schema_is_at_0003_and_the_migration_matches_the_models(store: Store):
    current, head = db.schema_revision(store.engine)
    assert current == head == "0007"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    tables = set(inspect(store.engine).get_table_names())
    assert {"models", "model_training_records"} <= tables


def test_migration_downgrades_and_upgrades_again(store: Store):
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["engine"] = store.engine
    command.downgrade(cfg, "0002")
    assert {"models", "model_training_records"}.isdisjoint(inspect(store.engine).get_table_names())
    db.upgrade(store.engine)
    assert db.schema_revision(store.engine)[0] == "0007"


def test_register_numbers_versions_per_name_and_get_returns_latest(store: Store):
    first = store.models.register("ner-small", "ner", "/models/ner-small/1", base="tiny-bert",
                                  params={"epochs": 3, "lr": 5e-5}, metrics={"f1": 0.71}, labels=["PROBLEM", "DRUG"],
                                  actor="alice")
    second = store.models.register("ner-small", "ner", "/models/ner-small/2", metrics={"f1": 0.74})
    other = store.models.register("sections", "classify", "/models/sections/1")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert store.models.get("ner-small") == second
    assert store.models.get("ner-small", version=1) == first
    assert first.status == "ready" and first.created_by == "alice" and second.created_by == "system"
    assert first.labels == ["PROBLEM", "DRUG"] and second.labels is None and first.base == "tiny-bert"
    assert first.created_at.tzinfo is not None
    assert [(m.name, m.version) for m in store.models.list()] == [("ner-small", 1), ("ner-small", 2), ("sections", 1)]
    assert store.models.list(task="classify") == [other]
    assert store.models.list(name="ner-small", status="ready") == [first, second]
    assert json.loads(json.dumps(first.to_dict()))["params"] == {"epochs": 3, "lr": 5e-5}


def test_entries_are_frozen_and_detached(store: Store):
    entry = store.models.register("m", "lm", "/models/m/1", params={"layers": 2})
    with pytest.raises(AttributeError):
        entry.status = "retired"  # type: ignore[misc]
    entry.params["layers"] = 99
    assert store.models.get("m").params == {"layers": 2}
    assert isinstance(store.models.get_by_id(entry.id), ModelEntry)


def test_lineage_rows_are_deduplicated_and_the_snapshot_hash_ignores_order(store: Store):
    ids = save_records(store, "P-1", 3)
    a = store.models.register("a", "classify", "/models/a", record_ids=[ids[2], ids[0], ids[1], ids[0]])
    b = store.models.register("b", "classify", "/models/b", record_ids=reversed(ids))
    c = store.models.register("c", "classify", "/models/c", record_ids=ids[:2])
    assert store.models.training_records(a.id) == sorted(ids)
    assert a.record_count == 3 and c.record_count == 2
    assert a.snapshot_hash == b.snapshot_hash == snapshot_hash(ids) != c.snapshot_hash
    assert a.snapshot_hash == hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ModelTrainingRecordRow)) == 8


def test_models_trained_on_and_marking_find_exactly_the_models_that_saw_a_patient(store: Store):
    alice = save_records(store, "P-alice", 2)
    bob = save_records(store, "P-bob", 1)
    both = store.models.register("ner", "ner", "/m/ner/1", record_ids=[alice[0], bob[0]])
    bob_only = store.models.register("ner", "ner", "/m/ner/2", record_ids=bob)
    alice_later = store.models.register("cls", "classify", "/m/cls/1", record_ids=[alice[1]])
    retired = store.models.register("old", "classify", "/m/old/1", record_ids=alice)
    store.models.set_status(retired.id, "retired", "superseded", actor="ops")
    assert [m.id for m in store.models.models_trained_on(bob)] == [both.id, bob_only.id]  # by name, version

    patient_id = store.records.get_record(alice[0]).patient_id
    alice_records = [r.id for r in store.records.list_records(patient_id=patient_id)]
    marked = store.models.mark_needing_retraining(alice_records, "erasure request E-1", actor="dpo")
    assert {m.id for m in marked} == {both.id, alice_later.id, retired.id}
    status = {m.id: m.status for m in store.models.list()}
    assert status == {both.id: "needs_retraining", alice_later.id: "needs_retraining",
                      bob_only.id: "ready", retired.id: "retired"}
    assert store.models.list(status="needs_retraining") == [m for m in marked if m.status == "needs_retraining"]

    events = len(store.audit.entries(limit=1000))
    again = store.models.mark_needing_retraining(alice_records, "erasure request E-1", actor="dpo")
    assert again == marked and len(store.audit.entries(limit=1000)) == events
    assert store.models.mark_needing_retraining(["no-such-record"], "x") == []


def test_lineage_survives_erasing_the_patient_and_goes_with_the_model(store: Store):
    ids = save_records(store, "P-1", 2)
    teacher = store.models.register("teacher", "lm", "/m/teacher", record_ids=ids)
    student = store.models.register("student", "distill", "/m/student", record_ids=ids[:1], parent_id=teacher.id)
    assert student.parent_id == teacher.id
    with store.sessions.begin() as session:
        session.execute(delete(PatientRow))  # erasure: patients -> records -> notes cascade
    assert store.records.count_records() == 0
    assert store.models.training_records(teacher.id) == sorted(ids)
    assert {m.id for m in store.models.models_trained_on(ids[:1])} == {teacher.id, student.id}
    with store.sessions.begin() as session:
        session.execute(delete(ModelRow).where(ModelRow.id == teacher.id))
    assert store.models.get_by_id(student.id).parent_id is None
    assert store.models.models_trained_on(ids) == [store.models.get_by_id(student.id)]
    with pytest.raises(NotFoundError):
        store.models.training_records(teacher.id)


def test_register_and_status_changes_are_audited(store: Store):
    ids = save_records(store, "P-1", 1)
    entry = store.models.register("ner", "ner", "/m/ner", record_ids=ids, actor="alice")
    store.models.set_status(entry.id, "retired", "replaced by v2", actor="bob")
    store.models.set_status(entry.id, "retired", "again", actor="bob")  # no change, no event
    assert audit_actions(store) == [("model.register", entry.id), ("model.status", entry.id)]
    register, status = reversed(store.audit.entries())
    assert register["actor"] == "alice" and register["target_type"] == "model"
    assert register["details"] == {"name": "ner", "version": 1, "task": "ner", "record_count": 1,
                                   "snapshot_hash": entry.snapshot_hash, "parent_id": None}
    assert status["actor"] == "bob"
    assert status["details"] == {"from": "ready", "to": "retired", "reason": "replaced by v2"}


def test_update_metrics_merges(store: Store):
    entry = store.models.register("cls", "classify", "/m/cls", metrics={"dev_f1": 0.8})
    updated = store.models.update_metrics(entry.id, {"test_f1": 0.77, "dev_f1": 0.81})
    assert updated.metrics == {"dev_f1": 0.81, "test_f1": 0.77} == store.models.get("cls").metrics


@pytest.mark.parametrize(("call", "error"), [
    (lambda s: s.models.get("missing"), NotFoundError),
    (lambda s: s.models.get("cls", version=7), NotFoundError),
    (lambda s: s.models.get_by_id("missing"), NotFoundError),
    (lambda s: s.models.update_metrics("missing", {}), NotFoundError),
    (lambda s: s.models.set_status("missing", "retired", "x"), NotFoundError),
    (lambda s: s.models.training_records("missing"), NotFoundError),
    (lambda s: s.models.register("x", "ner", "/p", record_ids=["not-stored"]), NotFoundError),
    (lambda s: s.models.register("x", "distill", "/p", parent_id="missing"), NotFoundError),
    (lambda s: s.models.register("x", "ner", "/p", record_ids="one-string"), InputError),
    (lambda s: s.models.register("", "ner", "/p"), InputError),
    (lambda s: s.models.register("x", "ner", "/p", metrics={"f1": object()}), InputError),
    (lambda s: s.models.set_status(s.models.get("cls").id, "deleted", "x"), InputError),
    (lambda s: s.models.list(status="gone"), InputError),
])
def test_bad_requests_raise_clear_errors_and_store_nothing(store: Store, call, error):
    store.models.register("cls", "classify", "/m/cls")
    with pytest.raises(error):
        call(store)
    assert [(m.name, m.version, m.status) for m in store.models.list()] == [("cls", 1, "ready")]


def test_record_ids_of_notes_collects_a_training_snapshot(store: Store):
    ids = save_records(store, "P-1", 2) + save_records(store, "P-2", 1)
    note_ids = [n.id for batch in store.records.iter_notes(None, 10) for n in batch]
    assert record_ids_of_notes(store, note_ids + note_ids[:1]) == sorted(ids)
    first_note = store.records.get_record(ids[0]).notes[0].id
    with store.sessions() as session:
        assert record_ids_of_notes(session, [first_note]) == [ids[0]]
    with pytest.raises(NotFoundError):
        record_ids_of_notes(store, ["no-such-note"])
