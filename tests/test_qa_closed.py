"""Yes/no/maybe over made-up abstracts: the shipped model on clear cues, cited sentences, training, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from carelm.core.errors import ConfigError, InputError
from carelm.generate import closed
from carelm.generate.qa_closed_features import FEATURE_NAMES, cue_counts, p_values

POSITIVE = {
    "id": "pos",
    "question": "Does drug A lower blood pressure in adults with hypertension?",
    "contexts": [
        "Hypertension is common. We tested whether drug A lowers blood pressure.",
        "A randomised trial of 400 adults with hypertension.",
        "Drug A significantly lowered systolic blood pressure compared with placebo (p < 0.001). Diastolic blood "
        "pressure was also significantly reduced (p = 0.002), and drug A was associated with better control.",
    ],
}
NEGATIVE = {
    "id": "neg",
    "question": "Is coffee intake associated with the risk of migraine?",
    "contexts": [
        "Coffee has been suggested as a migraine trigger.",
        "A cohort of 2,000 adults followed for five years.",
        "Coffee intake was not associated with migraine risk (p = 0.64). There was no significant difference in "
        "migraine frequency between drinkers and non-drinkers, and the rates were similar in both groups.",
    ],
}


def test_cues_and_p_values_are_counted():
    counts = cue_counts("There was no significant difference; it did not change and was not associated with X.")
    assert counts["no_significant"] == 1 and counts["did_not"] == 1 and counts["not_associated"] == 1
    assert p_values("p < 0.001, P = 0.03, p = 0.64, p>0.05") == (2, 2)


def test_shipped_model_answers_clear_cues_with_cited_sentences():
    answers = closed.answer_items([closed.check_item(POSITIVE, "t"), closed.check_item(NEGATIVE, "t")])
    assert [a["answer"] for a in answers] == ["yes", "no"]
    for item, result in zip((POSITIVE, NEGATIVE), answers, strict=True):
        assert result["id"] == item["id"]
        assert abs(sum(result["scores"].values()) - 1) < 1e-3
        assert result["answer"] in result["rationale"]
        assert 1 <= len(result["citations"]) <= 2
        for c in result["citations"]:
            assert item["contexts"][c["context"]][c["start"] : c["end"]] == c["quote"]
    assert answers[1]["citations"][0]["context"] == 2  # the finding, not the background
    assert "not associated" in answers[1]["rationale"] or "no significant" in answers[1]["rationale"]


def test_shipped_model_records_how_it_was_made():
    model = closed.load_model()
    assert model["features"] == list(FEATURE_NAMES)
    assert "PubMedQA" in model["trained_on"] and set(model["classes"]) == {"yes", "no", "maybe"}
    resources = Path(closed.__file__).resolve().parents[1] / "resources"
    assert (resources / "qa" / "closed_pubmedqa.json").stat().st_size < 2_000_000
    assert "`qa/closed_pubmedqa.json`" in (resources / "MANIFEST.md").read_text(encoding="utf-8")


def test_a_model_trained_on_labelled_examples_is_saved_and_reloaded(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, len(FEATURE_NAMES)))
    labels = ["yes" if r[0] > 0 else "no" for r in rows]
    model = closed.fit(rows, labels, c=10.0)
    path = tmp_path / "model.json"
    closed.save_model(model, path)
    again = closed.load_model(path)
    predicted = np.array(again["classes"])[closed.probabilities(again, rows).argmax(1)]
    assert (predicted == np.array(labels)).mean() > 0.9
    assert not (tmp_path / "model.json.partial").exists()


def test_training_end_to_end_on_a_few_examples():
    examples = [dict(closed.check_item(POSITIVE, "t"), answer="yes"),
                dict(closed.check_item(NEGATIVE, "t"), answer="no")]
    model = closed.train(examples * 3, c=1.0, source="made-up")
    assert model["examples"] == 6 and model["trained_on"] == "made-up"
    assert [a["answer"] for a in closed.answer_items(examples, model)] == ["yes", "no"]


@pytest.mark.parametrize(("obj", "message"), [
    ([1, 2], "JSON object"),
    ({"question": "Q?"}, "'contexts'"),
    ({"question": "", "contexts": ["x"]}, "'question'"),
    ({"question": "Q?", "contexts": []}, "'contexts'"),
    ({"question": "Q?", "contexts": ["ok", 3]}, "'contexts'"),
    ({"question": "Q?", "contexts": ["x"], "label": "yes"}, "unknown field"),
])
def test_bad_items_are_refused_with_their_location(obj, message):
    with pytest.raises(InputError, match=message) as caught:
        closed.check_item(obj, "in.jsonl:3")
    assert caught.value.location == "in.jsonl:3"


def test_labelled_items_need_a_valid_answer():
    assert closed.check_item({**NEGATIVE, "final_decision": "no"}, "x", labelled=True)["answer"] == "no"
    with pytest.raises(InputError, match="'answer'"):
        closed.check_item({**NEGATIVE, "answer": "perhaps"}, "x", labelled=True)


def test_incompatible_model_files_are_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": "something-else"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a carelm.closed_qa"):
        closed.load_model(path)
    path.write_text(json.dumps({"format": closed.FORMAT, "features": ["a", "b"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="retrain"):
        closed.load_model(path)
    with pytest.raises(ConfigError, match="cannot read"):
        closed.load_model(tmp_path / "missing.json")
