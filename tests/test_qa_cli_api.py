"""`carelm ask` and `POST /v1/ask`: batch yes/no/maybe files, training, and answers over a real SQLite store."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from carelm.api.app import create_app
from carelm.cli.main import app
from carelm.service import ask as ask_service
from carelm.service import ingest as ingest_service
from carelm.service import process as process_service
from carelm.service.context import Context
from tests.conftest import TEST_KEY
from tests.server import serving
from tests.test_qa_closed import NEGATIVE, POSITIVE

runner = CliRunner()
STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1"]  # enough to index
NOTES = [
    {"id": "n1", "patient": "P-1", "kind": "progress_note",
     "text": "Assessment: chest pain on exertion for two weeks.\nPlan: Lisinopril 10 mg daily was started for "
             "hypertension. Recheck blood pressure in four weeks."},
    {"id": "n2", "patient": "P-2", "kind": "discharge_summary",
     "text": "Hospital course: Metformin was continued for type 2 diabetes. The wound healed without infection."},
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def processed(settings, tmp_path):
    """Settings of a SQLite store holding the made-up notes, processed and indexed."""
    path = tmp_path / "notes.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    ctx = Context(settings, actor="test")
    try:
        ingest_service.ingest_path(ctx, path)
        pipeline = process_service.load_pipeline(None, STAGES)
        assert process_service.process_notes(ctx, pipeline).notes_done == 2
        stored = list(ctx.store.records.iter_deid_texts())
    finally:
        ctx.close()
    texts = {t.note_id: t.text for t in stored}
    patients = {t.note_id: t.patient_id for t in stored}
    return settings, texts, patients


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_batch_answers_good_lines_and_names_bad_ones(env):
    source = write_lines(env / "in.jsonl", [json.dumps(POSITIVE), "{not json", "",
                                             json.dumps({"id": "x", "question": "Q?"}), json.dumps(NEGATIVE)])
    out = env / "out.jsonl"
    result = runner.invoke(app, ["ask", "--in-jsonl", str(source), "--out-jsonl", str(out)])
    assert result.exit_code == 1, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["pos", None, "x", "neg"]
    assert [r.get("answer") for r in rows] == ["yes", None, None, "no"]
    assert rows[1]["error"] == f"{source}:2: not valid JSON"
    assert rows[2]["error"].startswith(f"{source}:4: 'contexts'")
    for item, row in ((POSITIVE, rows[0]), (NEGATIVE, rows[3])):
        assert set(row) == {"id", "answer", "rationale", "citations", "scores"}
        for c in row["citations"]:
            assert item["contexts"][c["context"]][c["start"] : c["end"]] == c["quote"]
    assert not (env / "out.jsonl.partial").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["ask"], "give a QUESTION"),
    (["ask", "Q?", "--in-jsonl", "a.jsonl", "--out-jsonl", "b.jsonl"], "without a QUESTION"),
    (["ask", "--in-jsonl", "a.jsonl"], "together"),
    (["ask", "--train", "a.jsonl"], "--model OUT"),
    (["ask", "What?", "--model", "m.json"], "--model applies"),
])
def test_usage_errors_exit_2_with_a_message(env, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output


def test_train_writes_a_model_that_batch_answers_use(env):
    labelled = write_lines(env / "train.jsonl", [json.dumps({**POSITIVE, "answer": "yes"}),
                                                  json.dumps({**NEGATIVE, "answer": "no"})] * 2)
    model = env / "model.json"
    result = runner.invoke(app, ["ask", "--train", str(labelled), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert json.loads(model.read_text(encoding="utf-8"))["examples"] == 4
    out = env / "out.jsonl"
    source = write_lines(env / "in.jsonl", [json.dumps(NEGATIVE)])
    result = runner.invoke(app, ["ask", "--in-jsonl", str(source), "--out-jsonl", str(out), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["answer"] == "no"
    bad = write_lines(env / "bad.jsonl", [json.dumps({**POSITIVE, "answer": "perhaps"})])
    result = runner.invoke(app, ["ask", "--train", str(bad), "--model", str(model)])
    assert result.exit_code == 2 and f"{bad}:1" in result.output


def test_ask_over_a_real_store_cites_the_stored_text(processed, monkeypatch):
    settings, texts, _ = processed
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(settings.data_dir))
    result = runner.invoke(app, ["ask", "What medication was started for hypertension?", "--scope", "records",
                                 "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert not body["abstained"] and body["citations"]
    first = body["citations"][0]
    assert "Lisinopril 10 mg daily was started for hypertension." in first["quote"]
    assert texts[first["document_id"]][first["start"] : first["end"]] == first["quote"]
    assert first["scope"] == "records"
    unrelated = runner.invoke(app, ["ask", "What is the capital of France?", "--json"])
    assert json.loads(unrelated.stdout)["abstained"] is True
    shown = runner.invoke(app, ["ask", "Which drug was continued for diabetes?"])
    assert shown.exit_code == 0 and "Metformin" in shown.output and "confidence" in shown.output


def test_api_ask_open_and_closed_forms(processed):
    settings, texts, patients = processed
    with serving(create_app(settings)) as client:
        response = client.post("/v1/ask", json={"question": "Which drug was continued for diabetes?",
                                                "scope": "records", "k": 5})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"answer", "citations", "confidence", "abstained"}
        c = body["citations"][0]
        assert texts[c["document_id"]][c["start"] : c["end"]] == c["quote"] and "Metformin" in c["quote"]
        diabetic = patients[c["document_id"]]
        only_theirs = client.post("/v1/ask", json={"question": "What medication was started for hypertension?",
                                                   "patient": diabetic, "scope": "records"}).json()
        assert all(patients[c["document_id"]] == diabetic for c in only_theirs["citations"])
        assert "Lisinopril" not in only_theirs["answer"]
        abstained = client.post("/v1/ask", json={"question": "What is the capital of France?"}).json()
        assert abstained["abstained"] is True and abstained["citations"] == []
        closed_form = client.post("/v1/ask", json={"id": "neg", "question": NEGATIVE["question"],
                                                   "contexts": NEGATIVE["contexts"]})
        assert closed_form.status_code == 200, closed_form.text
        assert closed_form.json()["answer"] == "no" and closed_form.json()["id"] == "neg"
        for bad in ({"question": ""}, {"question": "Q?", "scope": "web"}, {"question": "Q?", "k": 0},
                    {"question": "Q?", "contexts": []}, {"question": "Q?", "contexts": ["x"], "patient": "P-1"},
                    {"question": "Q?", "extra": 1}):
            error = client.post("/v1/ask", json=bad)
            assert error.status_code == 422, bad
            assert error.json()["error"]["code"] == "invalid_input"


def test_ask_through_an_openai_compatible_server_keeps_only_cited_sentences(processed):
    """The configured generative backend is carelm's own chat API (its extractive model) over real HTTP."""
    settings, texts, _ = processed
    with serving(create_app(settings)) as client:
        remote = settings.model_copy(update={"llm_backend": "openai", "llm_base_url": f"{client.base_url}/v1",
                                             "llm_api_key": SecretStr(client.headers["Authorization"][7:]),
                                             "llm_model": "extractive", "llm_external": False})
        ctx = Context(remote, actor="test")
        try:
            result = ask_service.ask(ctx, "What medication was started for hypertension?", scope="records")
            events = [e for e in ctx.store.audit.entries() if e["action"] == "generate"]
        finally:
            ctx.close()
    assert len(events) == 1  # the model was asked
    assert not result.abstained and result.text.startswith("Lisinopril 10 mg daily was started for hypertension.")
    for c in result.citations:
        assert texts[c.document_id][c.start : c.end] == c.quote
