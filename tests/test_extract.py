"""Storeless extraction: the JSONL interface, targets mode, the CLI and the HTTP endpoint."""

from __future__ import annotations

import json
from typing import ClassVar

import httpx
import pytest
from typer.testing import CliRunner

from carelm.cli.main import app
from carelm.core.pipeline import Pipeline
from carelm.core.registry import Stage, create_stage
from carelm.core.types import Note, Span
from carelm.service.extract import (
    CODING_STAGE,
    TEXT_STAGES,
    ExtractItem,
    coding_available,
    extract_items,
    extract_pipeline,
    read_jsonl,
)
from tests.test_api import api, assert_error_body  # noqa: F401 - the fixture is used by name

TEXT = ("HISTORY OF PRESENT ILLNESS:\r\nPatient denies chest pain.\tPossible pneumonia.\n\n"
        "FAMILY HISTORY:\nMother had breast cancer.\n")
MENTION_KEYS = {"start", "end", "text", "type", "negated", "uncertain", "historical", "hypothetical", "family",
                "section", "codes"}


class FakeCoder(Stage):
    """Two ranked candidate codes per mention, at the mention's offsets (never registered)."""

    name: ClassVar[str] = "tests.fake_codes.v1"
    reads: ClassVar[tuple[str, ...]] = ("mentions",)
    writes: ClassVar[tuple[str, ...]] = ("codes",)

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.layers["codes"] = [
                Span(m.start, m.end, code, {"display": f"{m.label} {rank}", "score": score, "rank": rank})
                for m in note.layer("mentions") for code, rank, score in (("Z99.2", 2, 0.4), ("Z99.1", 1, 0.9))
            ]
        return notes


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return extract_pipeline()


def at(text: str, target: str) -> dict:
    start = text.index(target)
    return {"start": start, "end": start + len(target)}


def run(pipeline: Pipeline, *objects: object) -> list[dict]:
    lines = [obj if isinstance(obj, str) else json.dumps(obj) for obj in objects]
    return list(extract_items(read_jsonl(lines, "in.jsonl"), pipeline))


def test_pipeline_adds_coding_only_when_registered(pipeline: Pipeline):
    names = [stage.name for stage in pipeline.stages]
    assert names == list(TEXT_STAGES) + ([CODING_STAGE] if coding_available() else [])


def test_one_output_per_line_in_order_with_offsets_into_the_input(pipeline: Pipeline):
    out = run(pipeline, {"id": "a", "text": TEXT}, {"id": 7, "text": "No fever."}, {"id": "c", "text": ""})
    assert [o["id"] for o in out] == ["a", 7, "c"]
    mentions = out[0]["mentions"]
    assert mentions and all(set(m) == MENTION_KEYS for m in mentions)
    assert [m["start"] for m in mentions] == sorted(m["start"] for m in mentions)
    for mention in mentions:
        assert TEXT[mention["start"]:mention["end"]] == mention["text"]
        assert all(set(code) == {"code", "display", "score"} for code in mention["codes"])
    found = {m["text"]: m for m in mentions}
    assert found["chest pain"]["negated"] and found["chest pain"]["section"] == "hpi"
    assert found["pneumonia"]["uncertain"] and not found["pneumonia"]["negated"]
    assert found["breast cancer"]["family"] and found["breast cancer"]["section"] == "family_history"
    assert out[2]["mentions"] == []


def test_targets_are_returned_exactly_in_the_given_order(pipeline: Pipeline):
    targets = [at(TEXT, "Mother had breast cancer"), at(TEXT, "denies chest pain"), at(TEXT, "Patient"),
               at(TEXT, "chest pain")]
    [out] = run(pipeline, {"id": "t", "text": TEXT, "targets": targets})
    got = out["mentions"]
    assert [(m["start"], m["end"]) for m in got] == [(t["start"], t["end"]) for t in targets]
    assert [m["text"] for m in got] == ["Mother had breast cancer", "denies chest pain", "Patient", "chest pain"]
    assert got[0]["family"] and got[0]["type"] == "PROBLEM" and got[0]["codes"] == []
    assert got[1]["negated"] and got[1]["type"] == "SYMPTOM" and got[1]["codes"] == []
    assert got[2]["type"] is None and got[2]["codes"] == [] and not got[2]["negated"]
    assert got[3]["negated"] and got[3]["section"] == "hpi"


def test_codes_come_from_the_coding_layer_at_identical_offsets_best_rank_first():
    stages = [create_stage(name) for name in TEXT_STAGES] + [FakeCoder()]
    pipeline = Pipeline(stages)
    [plain] = run(pipeline, {"text": TEXT})
    chest = next(m for m in plain["mentions"] if m["text"] == "chest pain")
    assert chest["codes"] == [{"code": "Z99.1", "display": "SYMPTOM 1", "score": 0.9},
                              {"code": "Z99.2", "display": "SYMPTOM 2", "score": 0.4}]
    [targeted] = run(pipeline, {"text": TEXT, "targets": [at(TEXT, "chest pain"), at(TEXT, "denies chest pain")]})
    assert [len(m["codes"]) for m in targeted["mentions"]] == [2, 0]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "expected a JSON object"),
        ({"id": "x", "text": "a", "colour": "red"}, "colour"),
        ({"id": "x"}, "'text' must be a string"),
        ({"id": "x", "text": "short", "targets": [{"start": 2, "end": 99}]}, "targets[0]"),
        ({"id": "x", "text": "short", "targets": [{"start": 0, "end": 2}, {"start": 3, "end": 3}]}, "targets[1]"),
        ({"id": "x", "text": "short", "targets": [{"start": 0, "end": 2, "label": "A"}]}, "label"),
        ({"id": "x", "text": "short", "targets": [{"start": "0", "end": 2}]}, "integers"),
        ({"id": "x", "text": "short", "targets": {"start": 0, "end": 2}}, "must be a list"),
    ],
)
def test_bad_lines_get_an_error_and_keep_their_place(pipeline: Pipeline, line, message):
    out = run(pipeline, {"id": "before", "text": "No cough."}, line, {"id": "after", "text": "No cough."})
    assert len(out) == 3 and out[0]["id"] == "before" and out[2]["id"] == "after"
    assert set(out[1]) == {"id", "error"} and message in out[1]["error"] and "in.jsonl:2" in out[1]["error"]


def test_batches_keep_input_order(pipeline: Pipeline):
    items = [ExtractItem(n, f"Note {n}: denies chest pain.") for n in range(130)]
    out = list(extract_items(items, pipeline, batch_size=64))
    assert [o["id"] for o in out] == list(range(130))
    assert all(o["mentions"][0]["negated"] for o in out)


def test_cli_jsonl_in_and_out(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT, "targets": [at(TEXT, "denies chest pain")]}]
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["extract", "--in-jsonl", str(src), "--out-jsonl", str(dst)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["a", "b"] and out[1]["mentions"][0]["negated"]
    src.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n" + json.dumps({"id": "z", "txt": "x"}) + "\n",
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["extract", "--in-jsonl", str(src), "--out-jsonl", str(dst)])
    assert result.exit_code == 1
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert "mentions" in out[0] and out[1]["id"] == "z" and "txt" in out[1]["error"]
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_cli_single_text_prints_mentions(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    result = CliRunner().invoke(app, ["extract", "-"], input="Denies chest pain.\n")
    assert result.exit_code == 0, result.output
    [mention] = json.loads(result.stdout)["mentions"]
    assert (mention["text"], mention["negated"]) == ("chest pain", True)
    bad = CliRunner().invoke(app, ["extract", str(tmp_path / "missing.txt")])
    assert bad.exit_code == 2 and "cannot read" in bad.output
    both = CliRunner().invoke(app, ["extract", "-", "--in-jsonl", str(tmp_path / "x.jsonl")])
    assert both.exit_code == 2


def test_api_extract(api: httpx.Client):  # noqa: F811
    body = {"id": "q1", "text": TEXT, "targets": [at(TEXT, "Mother had breast cancer"), at(TEXT, "chest pain")]}
    response = api.post("/v1/extract", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["id"] == "q1" and [m["text"] for m in out["mentions"]] == ["Mother had breast cancer", "chest pain"]
    assert out["mentions"][0]["family"] and out["mentions"][1]["negated"]
    plain = api.post("/v1/extract", json={"text": TEXT}).json()
    assert plain["id"] is None and {"chest pain", "breast cancer"} <= {m["text"] for m in plain["mentions"]}
    assert all(set(m) == MENTION_KEYS for m in plain["mentions"])


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"text": "short", "targets": [{"start": 0, "end": 40}]}, "targets[0]"),
        ({"text": "short", "targets": [{"start": 0, "end": 2, "label": "x"}]}, "label"),
        ({"text": "short", "colour": "red"}, "colour"),
        ({"id": "no text"}, "text"),
    ],
)
def test_api_extract_rejects_bad_input(api: httpx.Client, body, where):  # noqa: F811
    error = assert_error_body(api.post("/v1/extract", json=body), 422, "invalid_input")
    assert where in json.dumps(error)
