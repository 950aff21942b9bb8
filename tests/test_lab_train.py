"""The model lab end to end on tiny models built from a config: train, register, predict, evaluate, export,
distil, resume after an interruption, and a language model pretrained on the store with its lineage."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carelm.cli.main import app
from tests.conftest import TEST_KEY

pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

TINY_BERT = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2,
             "intermediate_size": 64, "max_position_embeddings": 128}
TINY_GPT2 = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2}

# Synthetic sentences: the label is decided by the finding word, so a tiny model can learn it in a few steps.
FINDINGS = {"cardiology": ["palpitations", "angina", "murmur"], "pulmonology": ["wheezing", "dyspnea", "cough"],
            "dermatology": ["rash", "eczema", "pruritus"]}
FRAMES = ["patient reports {} since monday", "follow up for {} today", "{} noted on exam", "complains of {} again"]


def classification_rows(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        label = rng.choice(sorted(FINDINGS))
        rows.append({"id": f"c{number}", "text": rng.choice(FRAMES).format(rng.choice(FINDINGS[label])),
                     "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def conll_text(seed: int, count: int) -> str:
    rng = random.Random(seed)
    # invented disease names, which the dictionary cannot know, beside real ones
    diseases = [["asthma"], ["heart", "failure"], ["zorbel", "syndrome"], ["quendar", "fever"]]
    before = [["the", "patient", "has"], ["the", "patient", "has", "no"], ["history", "of"], ["no", "sign", "of"]]
    after = [["and", "is", "stable", "."], ["."], ["today", "."]]
    out = []
    for _ in range(count):
        disease, left, right = rng.choice(diseases), rng.choice(before), rng.choice(after)
        words = left + disease + right
        tags = ["O"] * len(left) + ["B-Disease"] + ["I-Disease"] * (len(disease) - 1) + ["O"] * len(right)
        out.append("\n".join(f"{w}\t{t}" for w, t in zip(words, tags, strict=True)))
    return "\n\n".join(out) + "\n"


@pytest.fixture(scope="module", autouse=True)
def env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CARELM_PROFILE", "test")
        patch.setenv("CARELM_SECRET_KEY", TEST_KEY)
        patch.setenv("CARELM_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    (root / "tiny-bert.json").write_text(json.dumps(TINY_BERT))
    (root / "tiny-gpt2.json").write_text(json.dumps(TINY_GPT2))
    write_jsonl(root / "train.jsonl", classification_rows(1, 120))
    write_jsonl(root / "dev.jsonl", classification_rows(2, 30))
    (root / "train.conll").write_text(conll_text(3, 80))
    (root / "dev.conll").write_text(conll_text(4, 20))
    return root


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def db_for(root: Path) -> list[str]:
    return ["--db", f"sqlite:///{root / 'carelm.db'}"]


TRAIN = ["--epochs", "5", "--batch-size", "8", "--lr", "1e-2", "--max-length", "32", "--seed", "1", "--patience", "3"]


@pytest.fixture(scope="module")
def classifier(lab):
    invoke("train", "classify", str(lab / "train.jsonl"), "--name", "spec", "--dev", str(lab / "dev.jsonl"),
           "--base", str(lab / "tiny-bert.json"), *TRAIN, *db_for(lab))
    return lab


def test_train_classify_registers_and_predicts(classifier) -> None:
    lab = classifier
    shown = json.loads(invoke("models", "show", "spec", *db_for(lab)))
    assert shown["task"] == "classify" and shown["version"] == 1 and shown["training_records"] == []
    assert shown["metrics"]["best_macro_f1"] > 0.9
    folder = Path(shown["path"])
    assert (folder / "carelm-model.json").is_file() and not (folder / "checkpoint").exists()
    rows = [{"id": "a", "text": "complains of wheezing again"}, {"id": "b", "text": "rash noted on exam"}, {"x": 1}]
    write_jsonl(lab / "in.jsonl", rows)
    result = CliRunner().invoke(app, ["predict", "spec", "--in-jsonl", str(lab / "in.jsonl"), "--out-jsonl",
                                      str(lab / "out.jsonl"), *db_for(lab)])
    assert result.exit_code == 1  # one bad line
    out = [json.loads(line) for line in (lab / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == ["a", "b", None]
    assert out[0]["label"] == "pulmonology" and out[1]["label"] == "dermatology"
    assert abs(sum(out[0]["scores"].values()) - 1.0) < 1e-4 and "in.jsonl:3" in out[2]["error"]


def test_eval_writes_report_and_plots(classifier) -> None:
    lab = classifier
    invoke("eval", "spec", "--data", str(lab / "dev.jsonl"), "--report", str(lab / "report"), *db_for(lab))
    metrics = json.loads((lab / "report" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9 and metrics["examples"] == 30
    assert set(metrics["per_class"]) == set(FINDINGS)
    for png in (lab / "report").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((lab / "report").glob("*.png"))) == 2


def test_onnx_export_matches_torch(classifier) -> None:
    lab = classifier
    output = invoke("export", "spec", "--int8", *db_for(lab))
    assert "largest difference" in output and "model.int8.onnx" in output
    outputs = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        invoke("predict", "spec", "--in-jsonl", str(lab / "dev.jsonl"), "--out-jsonl", str(lab / f"{backend}.jsonl"),
               "--backend", backend, *db_for(lab))
        outputs[backend] = [json.loads(line) for line in (lab / f"{backend}.jsonl").read_text().splitlines()]
    for a, b in zip(outputs["torch"], outputs["onnx"], strict=True):
        assert a["label"] == b["label"]
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) < 1e-4
    # 8-bit weights are not equal to torch, but they must still decide (almost) every note the same way
    agree = [a["label"] == b["label"] for a, b in zip(outputs["torch"], outputs["onnx-int8"], strict=True)]
    assert sum(agree) >= 0.9 * len(agree)


def test_distilled_student_is_smaller_and_registered_with_parent(classifier) -> None:
    lab = classifier
    output = invoke("distill", "spec", "--data", str(lab / "train.jsonl"), "--dev", str(lab / "dev.jsonl"),
                    "--name", "spec-small", "--layers", "2", *TRAIN, *db_for(lab))
    assert "speed-up" in output
    student = json.loads(invoke("models", "show", "spec-small", *db_for(lab)))
    teacher = json.loads(invoke("models", "show", "spec", *db_for(lab)))
    assert student["parent_id"] == teacher["id"]
    comparison = student["metrics"]["comparison"]
    assert comparison["teacher"]["layers"] == 4 and comparison["student"]["layers"] == 2
    assert comparison["student"]["parameters"] < comparison["teacher"]["parameters"]
    assert comparison["student"]["score"]["macro_f1"] > 0.8


def test_train_ner_finds_mentions_with_offsets(lab) -> None:
    invoke("train", "ner", str(lab / "train.conll"), "--name", "dis", "--dev", str(lab / "dev.conll"),
           "--base", str(lab / "tiny-bert.json"), *TRAIN, "--epochs", "6", *db_for(lab))
    text = "The patient has heart failure and is stable."
    write_jsonl(lab / "ner-in.jsonl", [{"id": 1, "text": text}])
    invoke("predict", "dis", "--in-jsonl", str(lab / "ner-in.jsonl"), "--out-jsonl", str(lab / "ner-out.jsonl"),
           *db_for(lab))
    [out] = [json.loads(line) for line in (lab / "ner-out.jsonl").read_text().splitlines()]
    assert [(m["text"], m["type"]) for m in out["mentions"]] == [("heart failure", "Disease")]
    mention = out["mentions"][0]
    assert text[mention["start"] : mention["end"]] == "heart failure"
    # a tagger distils too: the student learns from the teacher's per-sub-word logits, packed like the teacher
    output = invoke("distill", "dis", "--data", str(lab / "train.conll"), "--dev", str(lab / "dev.conll"),
                    "--name", "dis-small", "--layers", "1", *TRAIN, "--epochs", "6", *db_for(lab))
    assert "speed-up" in output
    student = json.loads(invoke("models", "show", "dis-small", *db_for(lab)))
    assert student["params"]["pack"] is True and student["params"]["kept_layers"] == [0]
    assert student["metrics"]["comparison"]["student"]["layers"] == 1
    assert student["metrics"]["comparison"]["student"]["score"]["f1"] > 0.5


def test_interrupted_training_resumes_to_the_same_weights(lab, tmp_path) -> None:
    import torch

    from carelm.lab.classify import train_classifier
    from carelm.lab.data import read_classification
    from carelm.lab.trainer import TrainConfig

    examples = read_classification(lab / "train.jsonl")[:48]
    config = TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3, max_length=32, checkpoint_every=1,
                         dev_fraction=0.0)
    whole = train_classifier(examples, tmp_path / "whole", base=str(lab / "tiny-bert.json"), config=config)

    class Interrupted(Exception):
        pass

    def stop_at_five(step: int, *_: object) -> None:
        if step == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_classifier(examples, tmp_path / "cut", base=str(lab / "tiny-bert.json"), config=config,
                         progress=stop_at_five)
    assert (tmp_path / "cut" / "checkpoint" / "state.pt").is_file()
    resumed = train_classifier(examples, tmp_path / "cut", base=str(lab / "tiny-bert.json"), config=config)
    assert resumed.fit.resumed_from == 4 and resumed.fit.steps == whole.fit.steps == 12
    from safetensors.torch import load_file

    first, second = load_file(tmp_path / "whole" / "model.safetensors"), load_file(tmp_path / "cut" /
                                                                                   "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.allclose(first[key], second[key], atol=1e-6) for key in first)


def test_bad_training_file_names_the_line(lab) -> None:
    bad = lab / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "a"}\n{"text": "", "label": "b"}\n')
    result = CliRunner().invoke(app, ["train", "classify", str(bad), "--name", "bad", *db_for(lab)])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output


def test_language_model_on_store_notes_records_lineage(tmp_path, lab) -> None:
    from carelm.core.settings import get_settings
    from carelm.service.context import Context
    from carelm.service.demo import sample_path

    db = ["--db", f"sqlite:///{tmp_path / 'store.db'}"]
    rows = [json.loads(line) for line in sample_path().read_text().splitlines()[:12]]
    write_jsonl(tmp_path / "notes.jsonl", rows)
    invoke("ingest", str(tmp_path / "notes.jsonl"), *db)
    invoke("process", *db)
    output = invoke("train", "lm", "--name", "notes-lm", "--base", str(lab / "tiny-gpt2.json"), "--epochs", "2",
                    "--batch-size", "4", "--max-length", "32", "--lr", "3e-3", *db)
    assert "perplexity" in output
    shown = json.loads(invoke("models", "show", "notes-lm", *db))
    assert shown["task"] == "lm" and shown["metrics"]["best_perplexity"] > 1
    ctx = Context(get_settings(profile="test", secret_key=TEST_KEY, database_url=f"sqlite:///{tmp_path / 'store.db'}"))
    record_ids = {r.id for r in ctx.store.records.list_records(limit=100)}
    assert set(shown["training_records"]) == record_ids and shown["record_count"] == len(record_ids)
    one = sorted(record_ids)[0]
    assert [m.name for m in ctx.store.models.models_trained_on([one])] == ["notes-lm"]
    ctx.close()


def test_tagger_as_pipeline_stage_beside_the_dictionary(lab) -> None:
    from carelm.core.pipeline import Pipeline
    from carelm.core.registry import create_stage
    from carelm.core.types import Note

    if not (lab / "carelm.db").exists():
        pytest.skip("needs the tagger trained by test_train_ner_finds_mentions_with_offsets")
    shown = json.loads(invoke("models", "show", "dis", *db_for(lab)))
    names = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.terms.v1"]
    stages = [create_stage(name) for name in names]
    stages += [create_stage("carelm.ner.v1", model=shown["path"]), create_stage("carelm.context.v1")]
    note = Note("The patient has zorbel syndrome and asthma. The patient has no quendar fever.")
    result = Pipeline(stages).run([note])
    assert not result.failed
    by_text = {note.text[s.start : s.end]: s for s in note.layer("mentions")}
    assert by_text["zorbel syndrome"].attributes["source"] == "model" and by_text["zorbel syndrome"].label == "PROBLEM"
    assert not by_text["zorbel syndrome"].attributes.get("negated")
    assert by_text["quendar fever"].attributes.get("negated") is True
    assert by_text["asthma"].attributes["source"] != "model"  # the dictionary's mention is kept
    assert "fever" not in by_text  # the model's longer "quendar fever" replaced the dictionary's "fever"


def test_predict_endpoint_serves_registered_models(classifier) -> None:
    from carelm.api.app import create_app
    from carelm.core.settings import get_settings
    from tests.server import serving

    settings = get_settings(profile="test", secret_key=TEST_KEY, database_url=f"sqlite:///{classifier / 'carelm.db'}")
    with serving(create_app(settings)) as client:
        body = {"texts": ["complains of wheezing again", "murmur noted on exam"]}
        found = client.post("/v1/models/spec/predict", json=body)
        assert found.status_code == 200, found.text
        answer = found.json()
        assert answer["model"] == "spec" and answer["version"] == 1 and answer["task"] == "classify"
        assert [p["label"] for p in answer["predictions"]] == ["pulmonology", "cardiology"]
        missing = client.post("/v1/models/nothing/predict", json=body)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        wrong = client.post("/v1/models/spec/predict", json={"texts": []})
        assert wrong.status_code == 422
