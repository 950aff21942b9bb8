"""Literature indexes with the real MiniLM encoder: dense and hybrid ranking, persistence, CLI batch runs, API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from carelm.api.app import create_app
from carelm.cli.main import app
from carelm.core.errors import InputError, NotFoundError
from carelm.retrieval.catalog import CACHE, literature_folder
from carelm.retrieval.index import PassageIndex
from carelm.retrieval.storage import current_generation
from carelm.service import search
from tests.conftest import TEST_KEY, issue_key
from tests.server import serving

DOCS = [
    ("zinc", "Zinc lozenges and the common cold", "Zinc shortened the duration of cold symptoms in adults."),
    ("statin", "Statins lower LDL cholesterol", "Atorvastatin reduced low-density lipoprotein and cardiac events."),
    ("asthma", "Inhaled corticosteroids in asthma", "Budesonide reduced exacerbations in children with asthma."),
    ("metformin", "Metformin in type 2 diabetes", "Metformin lowered glycated haemoglobin in obese patients."),
    ("warfarin", "Warfarin therapy", "Treatment with warfarin increased the risk of major haemorrhage."),
    ("migraine", "Triptans for migraine", "Sumatriptan relieved headache within two hours."),
    ("sepsis", "Early antibiotics in sepsis", "Delays in antimicrobial therapy raised mortality in septic shock."),
    ("depression", "SSRIs in major depression", "Sertraline improved mood scores over placebo at eight weeks."),
]


def write_corpus(path: Path, docs=DOCS) -> Path:
    path.write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs),
                    encoding="utf-8")
    return path


@pytest.fixture
def indexed(sqlite_ctx, tmp_path):
    search.index_literature(sqlite_ctx, write_corpus(tmp_path / "papers.jsonl"), name="papers")
    return sqlite_ctx


def ids(passages) -> list[str]:
    return [p.document_id for p in passages]


def test_dense_finds_a_paraphrase_that_bm25_cannot(indexed):
    query = "anticoagulant drug hazards"  # no word shared with the warfarin abstract
    assert search.search_passages(indexed, query, scope="literature", mode="bm25") == []
    dense = search.search_passages(indexed, query, scope="literature", mode="dense", k=3)
    assert ids(dense)[0] == "warfarin"
    assert dense[0].score > dense[1].score and -1.0 <= dense[-1].score <= 1.0
    hybrid = search.search_passages(indexed, query, scope="literature", mode="hybrid", k=3)
    assert ids(hybrid)[0] == "warfarin"


def test_hybrid_and_bm25_agree_on_an_exact_term_query(indexed):
    for mode in ("bm25", "dense", "hybrid"):
        found = search.search_passages(indexed, "budesonide for children with asthma", scope="literature",
                                       mode=mode, k=2)
        assert ids(found)[0] == "asthma", mode
    top = search.search_passages(indexed, "zinc cold", scope="literature", mode="hybrid", k=8)
    assert ids(top)[0] == "zinc" and len(top) == 8
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)
    passage = top[0]
    full = "Zinc lozenges and the common cold\nZinc shortened the duration of cold symptoms in adults."
    assert (passage.scope, passage.start, passage.end, passage.text) == ("literature", 0, len(full), full)
    assert passage.metadata == {"title": "Zinc lozenges and the common cold"}


def test_index_round_trips_and_reindexing_replaces_it(indexed, tmp_path):
    folder = literature_folder(indexed.settings.data_dir, "papers")
    before = search.search_passages(indexed, "migraine headache relief", scope="literature", k=4)
    loaded = PassageIndex.load(current_generation(folder))
    assert loaded.manifest["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (loaded.manifest["dimensions"], loaded.manifest["documents"], loaded.manifest["passages"]) == (384, 8, 8)
    assert loaded.manifest["built_at"] and loaded.vectors.matrix.shape == (8, 384)
    CACHE.forget(folder)
    after = search.search_passages(indexed, "migraine headache relief", scope="literature", k=4)
    assert [(p.id, round(p.score, 5)) for p in after] == [(p.id, round(p.score, 5)) for p in before]
    old_generation = current_generation(folder)
    search.index_literature(indexed, write_corpus(tmp_path / "v2.jsonl", DOCS[:2]), name="papers")
    assert not old_generation.exists()
    assert [p.name for p in folder.iterdir() if p.is_dir()] == [current_generation(folder).name]
    assert set(ids(search.search_passages(indexed, "asthma zinc statin", scope="literature", k=8))) <= {
        "zinc", "statin"}


def test_search_input_errors(indexed):
    with pytest.raises(InputError, match="accepted: records, literature, both"):
        search.search_passages(indexed, "x", scope="everything")
    with pytest.raises(InputError, match="accepted: bm25, dense, hybrid"):
        search.search_passages(indexed, "x", mode="sparse")
    with pytest.raises(InputError, match="empty"):
        search.search_passages(indexed, "  ")
    with pytest.raises(InputError, match="invalid index name"):
        search.index_literature(indexed, Path("x.jsonl"), name="../escape")
    assert search.remove_notes(indexed, ["nothing"]) == 0  # no records index yet
    with pytest.raises(NotFoundError):
        from carelm.retrieval.storage import require_generation

        require_generation(indexed.settings.data_dir / "index" / "records", "records")


def test_cli_indexes_and_writes_a_batch_run(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    result = runner.invoke(app, ["index", "literature", str(corpus), "--name", "trials"])
    assert result.exit_code == 0, result.output
    assert "8 document(s)" in result.output
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "zinc and colds"}) + "\n"
                       + json.dumps({"_id": "q2", "text": "sertraline depression"}) + "\n", encoding="utf-8")
    run = tmp_path / "run.jsonl"
    result = runner.invoke(app, ["search", "--in-jsonl", str(queries), "--out-jsonl", str(run), "--k", "3",
                                 "--scope", "literature", "--mode", "hybrid"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in run.read_text().splitlines()]
    assert [line["qid"] for line in lines] == ["q1", "q2"]
    assert [line["ranking"][0][0] for line in lines] == ["zinc", "depression"]
    for line in lines:
        assert set(line) == {"qid", "ranking"} and len(line["ranking"]) == 3
        scores = [score for _, score in line["ranking"]]
        assert scores == sorted(scores, reverse=True) and len({doc for doc, _ in line["ranking"]}) == 3
    result = runner.invoke(app, ["search", "triptan headache", "--scope", "literature", "--json", "--k", "1"])
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.output)
    assert hit["document_id"] == "migraine" and hit["text"].startswith("Triptans for migraine\n")
    other = tmp_path / "other.jsonl"
    result = runner.invoke(app, ["search", "--in-jsonl", str(queries), "--out-jsonl", str(other), "--scope", "all"])
    assert result.exit_code == 2 and "accepted: records, literature, both" in result.output
    assert not other.exists() and not (tmp_path / "other.jsonl.partial").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "q1"}\n')
    result = runner.invoke(app, ["search", "--in-jsonl", str(bad), "--out-jsonl", str(run)])
    assert result.exit_code == 2 and f"{bad}:1" in result.output


def test_api_search_route(settings, tmp_path):
    from carelm.service.context import Context

    ctx = Context(settings)
    search.index_literature(ctx, write_corpus(tmp_path / "papers.jsonl"), name="papers")
    ctx.close()
    researcher = {"Authorization": f"Bearer {issue_key(settings, 'researcher')}"}
    auditor = {"Authorization": f"Bearer {issue_key(settings, 'auditor')}"}
    with serving(create_app(settings)) as anonymous, httpx.Client(base_url=anonymous.base_url,
                                                                  headers=researcher) as client:
        body = {"query": "septic shock antibiotics", "scope": "literature", "mode": "hybrid", "k": 2}
        denied = anonymous.post("/v1/search", json=body, headers=auditor)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
        response = client.post("/v1/search", json=body)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["passages"][0]["document_id"] == "sepsis" and len(body["passages"]) == 2
        first = body["passages"][0]
        assert set(first) == {"id", "document_id", "scope", "start", "end", "score", "text", "metadata"}
        assert first["end"] - first["start"] == len(first["text"]) and first["scope"] == "literature"
        invalid = client.post("/v1/search", json={"query": "x", "mode": "sparse"})
        assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_input"
        blank = client.post("/v1/search", json={"query": "   ", "scope": "literature"})
        assert blank.status_code == 422 and blank.json()["error"]["location"] == "query"


def test_query_encoder_matches_the_document_encoder():
    import numpy as np

    from carelm.coding.encoder import encode

    encoder = search.query_encoder()
    assert encoder is search.query_encoder()  # built once per process
    assert encoder.backend == "onnxruntime"
    for text in ("fever", "a much longer query about inhaled corticosteroids in children with asthma"):
        assert np.abs(encoder(text) - encode([text])[0]).max() < 1e-4
