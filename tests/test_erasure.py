"""Erasure acceptance: after `erase`, no table, index file or vector holds anything of the erased patient.

Two made-up patients, each with a made-up rare word, are ingested, processed by the real pipeline, indexed
for search, named in a model's training snapshot and in knowledge-graph evidence.  One is erased; then every
column of every table (decrypting encrypted columns), the search index files and their vectors are scanned.
Runs on SQLite and on PostgreSQL (``postgres`` marker).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import MetaData, Table, inspect, select

from carelm.core.errors import CryptoError, InputError, NotFoundError
from carelm.core.pipeline import Pipeline
from carelm.core.types import Patient, Record, RecordItem
from carelm.kg.graph import Edge, Node
from carelm.lifecycle import erasure_certificate
from carelm.retrieval.catalog import CACHE, records_folder
from carelm.retrieval.storage import current_generation
from carelm.service import lifecycle, search
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from carelm.store.models import AnnotationRow, CodeRow, KgEdgeRow, NoteRow, RecordItemRow, RecordRow

ERASED = {"id": "MRN-ZQ-7731", "name": "Zorvath Quillendine", "word": "florbexian"}
KEPT = {"id": "MRN-MO-4420", "name": "Maribel Ostrander", "word": "quenzolith"}
NOTES = [
    {"id": "zq-note-1", "patient": {"id": ERASED["id"], "name": ERASED["name"]}, "kind": "discharge_summary",
     "record": "zq-enc-1", "date": "2024-02-03",
     "text": "HOSPITAL COURSE:\nZorvath Quillendine was admitted with florbexian dermatitis and pneumonia, treated "
             "with amoxicillin.\nDISCHARGE MEDICATIONS:\nAmoxicillin 500 mg three times daily.\n"
             "DISCHARGE INSTRUCTIONS:\nReturn if fever recurs."},
    {"id": "zq-note-2", "patient": {"id": ERASED["id"], "name": ERASED["name"]}, "kind": "progress_note",
     "record": "zq-enc-2", "date": "2024-03-10",
     "text": "HPI:\nFollow-up of the florbexian rash, now improving; mild cough.\nPLAN:\nContinue emollients."},
    {"id": "mo-note-1", "patient": {"id": KEPT["id"], "name": KEPT["name"]}, "kind": "progress_note",
     "record": "mo-enc-1", "date": "2024-04-22",
     "text": "HPI:\nMaribel Ostrander reports quenzolith exposure at work and a dry cough.\nPLAN:\nChest radiograph."},
]
# Internal ids may stay only where the design keeps bare ids on purpose: the append-only audit log and
# model lineage (record ids, so flagged models stay traceable).
ID_ALLOWED = {("audit_events", "target_id"), ("audit_events", "details"), ("model_training_records", "record_id")}
CONTEXTS = ("note", "patient", "surrogates")


def ingest(ctx: Context) -> None:
    for note in NOTES:
        ingest_payload(ctx, note)
    allergy = Record(patient=Patient(ERASED["id"], name=ERASED["name"]), external_id="zq-enc-9", source="unit-test",
                     items=[RecordItem(kind="allergy", display="Florbexian pollen extract", status="active")])
    ctx.store.records.save_records([allergy])


def ids_of(ctx: Context, external_id: str) -> dict[str, list]:
    """Every stored key that belongs to the patient, found with plain queries (independent of the cascade)."""
    key = ctx.store.cipher.keyed_hash("patient", external_id)
    with ctx.store.sessions() as s:
        from carelm.store.models import PatientRow, SurrogateMapRow

        patient = s.scalar(select(PatientRow.id).where(PatientRow.external_key == key))
        records = sorted(s.scalars(select(RecordRow.id).where(RecordRow.patient_id == patient)))
        notes = sorted(s.scalars(select(NoteRow.id).where(NoteRow.patient_id == patient)))
        return {
            "patients": [patient], "records": records, "notes": notes,
            "annotations": sorted(s.scalars(select(AnnotationRow.id).where(AnnotationRow.note_id.in_(notes)))),
            "codes": sorted(s.scalars(select(CodeRow.id).where(CodeRow.record_id.in_(records)))),
            "record_items": sorted(s.scalars(select(RecordItemRow.id).where(RecordItemRow.record_id.in_(records)))),
            "kg_edges": sorted(s.scalars(select(KgEdgeRow.id).where(KgEdgeRow.record_id.in_(records)))),
            "surrogate_maps": sorted(s.scalars(select(SurrogateMapRow.patient_id).where(
                SurrogateMapRow.patient_id == patient))),
        }


def scan_tables(ctx: Context) -> dict[tuple[str, str], list[str]]:
    """Every value of every column of every table as text; encrypted values decrypted when a row context fits."""
    engine = ctx.store.engine
    values: dict[tuple[str, str], list[str]] = {}
    for name in inspect(engine).get_table_names():
        table = Table(name, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(select(table)).mappings().all()
        for row in rows:
            strings = [v for v in row.values() if isinstance(v, str)]
            for column, value in row.items():
                values.setdefault((name, column), []).append(as_text(ctx, value, strings))
    return values


def as_text(ctx: Context, value, row_strings: list[str]) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        for context in (f"{p}:{s}" for p in CONTEXTS for s in row_strings):
            try:
                return ctx.store.cipher.decrypt(value, context)
            except CryptoError:
                continue
        return value.decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def hits(values: dict[tuple[str, str], list[str]], needle: str) -> set[tuple[str, str]]:
    needle = needle.lower()
    return {place for place, texts in values.items() if any(needle in text.lower() for text in texts)}


def index_bytes(ctx: Context) -> bytes:
    folder = records_folder(ctx.settings.data_dir)
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.fixture
def world(ctx: Context, tmp_path: Path):
    ingest(ctx)
    report = process_notes(ctx, Pipeline.default())  # the real pipeline; the records index is updated after it
    assert report.notes_done == 3 and report.notes_failed == 0
    erased, kept = ids_of(ctx, ERASED["id"]), ids_of(ctx, KEPT["id"])
    store = ctx.store
    both = store.models.register("lm-all", "lm", str(tmp_path / "models" / "lm-all"),
                                 record_ids=erased["records"] + kept["records"])
    only_kept = store.models.register("lm-kept", "lm", str(tmp_path / "models" / "lm-kept"),
                                      record_ids=kept["records"])
    nodes = [Node("Compound::DB01060", "Compound", "amoxicillin", source="test", licence="CC0"),
             Node("Symptom::cough", "Symptom", "cough", source="test", licence="CC0")]
    evidence = [{"note_id": ids["notes"][0], "record_id": store.records.stored_note(ids["notes"][0],
                                                                                   include_text=False).record_id,
                 "quote": f"{word} exposure"} for ids, word in ((erased, ERASED["word"]), (kept, KEPT["word"]))]
    store.kg.save(nodes, [Edge("Compound::DB01060", "Symptom::cough", "mentioned_with", "records", "internal", 1.0,
                               tuple(evidence))])
    run = store.runs.start({"stages": []}, "test", 1)
    store.runs.finish(run, done=0, failed=1, failures=[{"note_id": erased["notes"][1], "error": "stage failed"}],
                      status="done")
    return {"erased": ids_of(ctx, ERASED["id"]), "kept": ids_of(ctx, KEPT["id"]), "model": both,
            "model_kept": only_kept}


def test_erasure_leaves_no_trace_and_certifies_what_it_removed(ctx: Context, world):
    erased, kept = world["erased"], world["kept"]
    folder = records_folder(ctx.settings.data_dir)
    index = CACHE.get(folder)
    mine = np.asarray(index.column("patient_id")) == erased["patients"][0]
    vectors, passages = index.vectors.matrix[mine].copy(), int(mine.sum())
    before = scan_tables(ctx)
    # the scan sees the patient everywhere before erasure (decrypting where needed), so it can fail
    assert {("notes", "deid_text"), ("kg_edges", "evidence"), ("record_items", "display")} <= hits(before, "florbexian")
    assert {("patients", "identity_enc"), ("notes", "raw_text_enc"), ("surrogate_maps", "map_enc")} <= hits(
        before, "Quillendine")
    assert passages > 0 and b"florbexian" in index_bytes(ctx)
    assert erased["codes"] and erased["annotations"] and erased["surrogate_maps"] and erased["kg_edges"]

    certificate = lifecycle.erase_patient(ctx, ERASED["id"], "data subject request DSR-2024-117")

    after = scan_tables(ctx)
    for needle in (ERASED["word"], *ERASED["name"].split(), ERASED["id"], "zq-note-1", "zq-enc-1"):
        assert hits(after, needle) == set(), needle
    internal = [i for key in ("patients", "records", "notes") for i in erased[key]]
    for value in internal:
        assert hits(after, value) <= ID_ALLOWED, value
    on_disk = index_bytes(ctx)
    for encoding in ("utf-8", "utf-16-le", "utf-32-le"):
        assert ERASED["word"].encode(encoding) not in on_disk
    assert not any(v.encode() in on_disk for v in internal)
    for vector in vectors:
        assert vector.astype(np.float32).tobytes() not in on_disk and vector[:8].tobytes() not in on_disk
    assert [p for p in folder.iterdir() if p.is_dir()] == [current_generation(folder)]  # no older copy left
    if ctx.store.backend == "sqlite":  # deleted bytes overwritten and the write-ahead log folded in
        database = Path(ctx.settings.resolved_database_url.removeprefix("sqlite:///"))
        for path in (database, database.with_name(database.name + "-wal")):
            assert not path.exists() or ERASED["word"].encode() not in path.read_bytes(), path

    # the other patient is intact
    assert ids_of(ctx, KEPT["id"]) == kept
    assert KEPT["word"] in ctx.store.records.stored_note(kept["notes"][0], include_text=False).deid_text
    found = search.search_passages(ctx, "quenzolith exposure", scope="records", mode="bm25")
    assert found and {p.document_id for p in found} == set(kept["notes"])
    assert search.search_passages(ctx, "florbexian rash", scope="records", mode="bm25") == []
    assert ctx.store.models.get("lm-kept").status == "ready"

    # the certificate lists everything removed, per table, with hashes of the ids
    assert erasure_certificate.verify(certificate) and not certificate["already_erased"]
    expected = {table: len(keys) for table, keys in erased.items()}
    assert certificate["removed"] == {**expected, "processing_run_failures": 1, "search_index_passages": passages}
    lines = [f"{table}\t{key}" for table, keys in erased.items() for key in keys]
    assert certificate["hashes"]["ids_sha256"] == hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    assert certificate["subject"]["keyed_hash"] == ctx.store.cipher.keyed_hash("patient", ERASED["id"])
    assert certificate["reason"] == "data subject request DSR-2024-117" and certificate["requested_by"] == "test"
    assert [m["name"] for m in certificate["models_needing_retraining"]] == ["lm-all"]
    assert ctx.store.models.get("lm-all").status == "needs_retraining"
    assert lifecycle.get_certificate(ctx, certificate["certificate_id"]) == certificate
    [entry] = [e for e in ctx.store.audit.entries(limit=50) if e["id"] == certificate["audit_event_id"]]
    assert entry["action"] == "erase" and entry["target_id"] == certificate["subject"]["keyed_hash"]
    if ctx.store.backend == "sqlite":
        assert certificate["storage"] == {"backend": "sqlite", "deleted_bytes_overwritten": True,
                                          "wal_checkpointed": True}


def test_erasing_again_removes_nothing_more_and_says_so(ctx: Context, world):
    patient_id = world["erased"]["patients"][0]
    first = lifecycle.erase_patient(ctx, patient_id, "request by internal id")
    assert first["removed"]["notes"] == 2
    for given in (patient_id, ERASED["id"]):
        again = lifecycle.erase_patient(ctx, given, "repeated request")
        assert again["already_erased"] and again["removed"] == {} and again["removed_total"] == 0
        assert again["previous_certificates"][0] == first["certificate_id"]
        assert again["subject"] == first["subject"] and erasure_certificate.verify(again)
    assert ids_of(ctx, KEPT["id"]) == world["kept"]
    with pytest.raises(NotFoundError):
        lifecycle.erase_patient(ctx, "MRN-NEVER-SEEN", "typo")
    with pytest.raises(InputError):
        lifecycle.erase_patient(ctx, ERASED["id"], "   ")


def test_a_tampered_certificate_fails_verification(ctx: Context, world):
    certificate = lifecycle.erase_patient(ctx, ERASED["id"], "request")
    edited = {**certificate, "removed": {**certificate["removed"], "notes": 0}}
    assert erasure_certificate.verify(certificate) and not erasure_certificate.verify(edited)
