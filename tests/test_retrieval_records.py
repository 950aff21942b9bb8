"""The records index on a real store (SQLite, and PostgreSQL where configured): built by the `carelm process`
hook from de-identified text only, filtered, updated incrementally, and really emptied by removal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from carelm.core.pipeline import Pipeline
from carelm.retrieval.catalog import CACHE, records_folder
from carelm.retrieval.index import PassageIndex
from carelm.retrieval.storage import current_generation
from carelm.service import search
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes

# The pipeline the hook is exercised with: sections, sentences and de-identification are what indexing reads.
STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1"]
NOTES = [
    {"id": "n-a1", "patient": {"id": "P-A", "name": "Quentin Albright"}, "kind": "progress_note",
     "date": "2024-03-01T09:00:00",
     "text": "HPI:\nQuentin Albright reports productive cough and fever for three days.\n"
             "PLAN:\nStart amoxicillin and review chest radiograph."},
    {"id": "n-a2", "patient": {"id": "P-A", "name": "Quentin Albright"}, "kind": "discharge_summary",
     "date": "2024-04-15",
     "text": "HOSPITAL COURSE:\nTreated for community acquired pneumonia with intravenous antibiotics.\n"
             "FOLLOW UP:\nClinic visit in two weeks."},
    {"id": "n-b1", "patient": {"id": "P-B", "name": "Imogen Treadwell"}, "kind": "progress_note",
     "date": "2024-05-20",
     "text": "HPI:\nPersistent sinus congestion after a course of antibiotics; mucormycosis ruled out.\n"
             "PLAN:\nNasal saline rinses."},
]


def ingest(ctx: Context, notes: list[dict]) -> dict[str, str]:
    """Store the notes; their store ids by source id."""
    ids = {}
    for note in notes:
        report = ingest_payload(ctx, note)
        record = ctx.store.records.get_record(report.record_ids[0], include_text=False)
        ids[note["id"]] = record.notes[-1].id
    return ids


def index_files_bytes(ctx: Context) -> bytes:
    folder = records_folder(ctx.settings.data_dir)
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


@pytest.fixture
def processed(ctx: Context):
    ids = ingest(ctx, NOTES)
    report = process_notes(ctx, Pipeline.from_names(STAGES))
    assert report.notes_done == 3
    return ctx, ids


def test_process_hook_indexes_deidentified_text_only(processed):
    ctx, ids = processed
    generation = current_generation(records_folder(ctx.settings.data_dir))
    index = PassageIndex.load(generation)
    assert index.manifest["scope"] == "records" and index.manifest["documents"] == 3
    stored = {ids[k]: ctx.store.records.stored_note(ids[k], include_text=False) for k in ids}
    for row in index.rows:
        note = stored[row["document_id"]]
        assert note.deid_text[row["start"]:row["end"]] == row["text"]
        assert row["metadata"]["patient_id"] == note.patient_id and row["metadata"]["kind"] == note.kind
    sections = {row["metadata"]["section"] for row in index.rows}
    assert {"hpi", "plan", "hospital_course"} <= sections
    on_disk = index_files_bytes(ctx)
    assert b"Albright" not in on_disk and b"Treadwell" not in on_disk  # raw names never indexed
    assert b"amoxicillin" in on_disk


def test_filters_restrict_record_passages(processed):
    ctx, ids = processed
    everything = search.search_passages(ctx, "antibiotics", scope="records", k=10)
    assert {p.document_id for p in everything} >= {ids["n-a2"], ids["n-b1"]}
    patient_a = search.search_passages(ctx, "antibiotics", scope="records", patient=everything[0].metadata[
        "patient_id"] if everything[0].document_id != ids["n-b1"] else everything[1].metadata["patient_id"])
    assert {p.document_id for p in patient_a} <= {ids["n-a1"], ids["n-a2"]} and patient_a
    summaries = search.search_passages(ctx, "antibiotics", scope="records", kinds=["discharge_summary"])
    assert {p.document_id for p in summaries} == {ids["n-a2"]}
    plans = search.search_passages(ctx, "cough antibiotics saline", scope="records", sections=["plan"], mode="bm25")
    assert plans and all(p.metadata["section"] == "plan" for p in plans)
    dated = search.search_passages(ctx, "antibiotics", scope="records", date_from="2024-05-01")
    assert {p.document_id for p in dated} == {ids["n-b1"]}
    assert search.search_passages(ctx, "antibiotics", scope="records", date_to="2024-01-01") == []
    audit = ctx.store.audit.entries(limit=50)
    searches = [e for e in audit if e["action"] == "search"]
    assert searches and all("antibiotics" not in json.dumps(e["details"]) for e in searches)


def test_incremental_add_then_removal_leaves_nothing_on_disk(processed):
    ctx, ids = processed
    folder = records_folder(ctx.settings.data_dir)
    first = current_generation(folder)
    ids |= ingest(ctx, [{"id": "n-c1", "patient": "P-C", "kind": "progress_note", "date": "2024-06-01",
                         "text": "HPI:\nRash on both forearms after gardening.\nPLAN:\nTopical hydrocortisone."}])
    process_notes(ctx, Pipeline.from_names(STAGES))
    assert not first.exists()
    [hit] = search.search_passages(ctx, "hydrocortisone", scope="records", mode="bm25", k=1)
    assert hit.document_id == ids["n-c1"]

    index = CACHE.get(folder)
    gone = np.isin(index.column("note_id"), [ids["n-b1"]])
    vectors = index.vectors.matrix[gone].copy()
    assert b"mucormycosis" in index_files_bytes(ctx)
    assert search.remove_notes(ctx, [ids["n-b1"]]) == int(gone.sum()) > 0
    assert_gone(ctx, "mucormycosis", vectors)
    assert ids["n-b1"] not in {p.document_id for p in search.search_passages(ctx, "sinus congestion", k=10)}

    patient = CACHE.get(folder).rows[0]["metadata"]["patient_id"]
    rows = CACHE.get(folder).column("patient_id") == patient
    vectors = CACHE.get(folder).vectors.matrix[rows].copy()
    assert search.remove_patient(ctx, patient) == int(rows.sum())
    assert_gone(ctx, "amoxicillin", vectors)
    # the store still holds the removed notes: a later sync would index them again, erasure deletes them first
    assert search.remove_patient(ctx, patient) == 0


def assert_gone(ctx: Context, token: str, vectors: np.ndarray) -> None:
    folder = records_folder(ctx.settings.data_dir)
    on_disk = index_files_bytes(ctx)
    for encoding in ("utf-8", "utf-16-le", "utf-32-le"):
        assert token.encode(encoding) not in on_disk, encoding
    for vector in vectors:
        assert vector.astype(np.float32).tobytes() not in on_disk
        assert vector[:8].astype(np.float32).tobytes() not in on_disk
    generations = [p for p in folder.iterdir() if p.is_dir()]
    assert generations == [current_generation(folder)]  # no older copy left behind
    terms = json.loads((generations[0] / "terms.json").read_text(encoding="utf-8"))
    assert token not in terms and token[:-1] not in terms


def test_rebuild_matches_the_incremental_index(processed):
    ctx, _ = processed
    folder = records_folder(ctx.settings.data_dir)
    incremental = {(r["id"], r["start"], r["end"]) for r in CACHE.get(folder).rows}
    manifest = search.rebuild_records_index(ctx)
    assert manifest["passages"] == len(incremental)
    assert {(r["id"], r["start"], r["end"]) for r in CACHE.get(folder).rows} == incremental
    assert search.index_records(ctx) == {"added": 0, "removed": 0, "passages": len(incremental)}


def test_cli_index_records_and_search_table(processed, monkeypatch):
    from typer.testing import CliRunner

    from carelm.cli.main import app

    ctx, _ = processed
    settings = ctx.settings
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("CARELM_DATA_DIR", str(Path(settings.data_dir)))
    monkeypatch.setenv("CARELM_LOCAL_OPERATOR", "on")  # the CLI acts as the local admin on PostgreSQL too
    monkeypatch.setenv("COLUMNS", "300")  # a table wide enough not to fold its cells
    db = ["--db", settings.resolved_database_url]
    runner = CliRunner()
    result = runner.invoke(app, ["index", "records", *db])
    assert result.exit_code == 0, result.output
    assert "3 note(s)" in result.output
    result = runner.invoke(app, ["search", "pneumonia", "--scope", "records", "--kind", "discharge_summary",
                                 "--json", *db])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits and {h["metadata"]["kind"] for h in hits} == {"discharge_summary"}
    result = runner.invoke(app, ["search", "pneumonia", "--scope", "records", "--mode", "bm25", *db])
    assert result.exit_code == 0 and "hospital_course" in result.output


def test_api_searches_records_with_filters(processed):
    import httpx

    from carelm.api.app import create_app
    from tests.conftest import issue_key
    from tests.server import serving

    ctx, ids = processed
    clinician = {"Authorization": f"Bearer {issue_key(ctx.settings, 'clinician')}"}
    with serving(create_app(ctx.settings)) as server, httpx.Client(base_url=server.base_url,
                                                                   headers=clinician) as client:
        body = {"query": "antibiotics", "scope": "records", "kinds": ["progress_note"], "date_from": "2024-05-01",
                "date_to": "2024-05-31", "k": 5}
        response = client.post("/v1/search", json=body)
        assert response.status_code == 200, response.text
        passages = response.json()["passages"]
        assert passages and {p["document_id"] for p in passages} == {ids["n-b1"]}
        note = ctx.store.records.stored_note(ids["n-b1"], include_text=False)
        for p in passages:
            assert note.deid_text[p["start"]:p["end"]] == p["text"]
            assert p["metadata"]["kind"] == "progress_note" and p["metadata"]["authored_at"].startswith("2024-05-20")
        bad = client.post("/v1/search", json={"query": "x", "date_from": "May"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
        bad = client.post("/v1/search", json={"query": "x", "date_from": "2024-06-01", "date_to": "2024-01-01"})
        assert bad.status_code == 422 and bad.json()["error"]["location"] == "date_from"
