"""Tests of ConText assertion: trigger rules, scopes, sections and the stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carelm.core.errors import ConfigError
from carelm.core.registry import create_stage
from carelm.core.types import Note, Span
from carelm.extract.assertion import ContextAssertion, assert_spans
from carelm.extract.context_rules import load_context_rules, parse_context_rules
from carelm.extract.normalize import TextNormalizer
from carelm.extract.sections import SectionDetector
from carelm.extract.sentences import SentenceSplitter

FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")


def judge(sentence: str, target: str, occurrence: int = 0) -> set[str]:
    """The flags ``assert_spans`` sets on the ``occurrence``-th copy of ``target`` in a one-sentence text."""
    start = -1
    for _ in range(occurrence + 1):
        start = sentence.index(target, start + 1)
    result = assert_spans(sentence, [Span(0, len(sentence), "sentence")], [], [(start, start + len(target))])[0]
    return {flag for flag in FLAGS if result[flag]}


@pytest.mark.parametrize(
    ("sentence", "target", "expected"),
    [
        ("No evidence of pneumonia on the film.", "pneumonia", {"negated"}),
        ("Pneumonia was ruled out.", "Pneumonia", {"negated"}),
        ("Patient denies chest pain or palpitations.", "chest pain", {"negated"}),
        ("Patient denies chest pain or palpitations.", "palpitations", {"negated"}),
        ("The wound is free of erythema.", "erythema", {"negated"}),
        ("Abdomen without tenderness or guarding.", "guarding", {"negated"}),
        ("She has never had seizures.", "seizures", {"negated"}),
        ("Negative for hematuria.", "hematuria", {"negated"}),
        ("Fever: negative.", "Fever", {"negated"}),
        ("Pneumonia is ruled out by the scan.", "Pneumonia", {"negated"}),
        ("Dysuria has resolved.", "Dysuria", {"negated"}),
        ("He has no fever but has a cough.", "fever", {"negated"}),
        ("He has no fever but has a cough.", "cough", set()),
        ("No rash, however reports itching.", "itching", set()),
        ("There is no increase in pain.", "pain", set()),
        ("No change in the nodule since last year.", "nodule", set()),
        ("Cultures grew gram negative rods.", "rods", set()),
        ("Possible pneumonia in the left base.", "pneumonia", {"uncertain"}),
        ("Cannot rule out PE.", "PE", {"uncertain"}),
        ("A small effusion cannot be excluded.", "effusion", {"uncertain"}),
        ("Findings suspicious for malignancy.", "malignancy", {"uncertain"}),
        ("Rule out sepsis.", "sepsis", {"uncertain"}),
        ("History of MI in 2015.", "MI", {"historical"}),
        ("He is status post appendectomy.", "appendectomy", {"historical"}),
        ("She had a stroke 5 years ago.", "stroke", {"historical"}),
        ("He had a fall 2 days ago.", "fall", set()),
        ("Return if symptoms recur.", "symptoms", {"hypothetical"}),
        ("Call the clinic if you develop a fever.", "fever", {"hypothetical"}),
        ("Mother had breast cancer.", "breast cancer", {"family"}),
        ("Diabetes in her father.", "Diabetes", {"family"}),
        ("Family history of colon cancer.", "colon cancer", {"family"}),
        ("No family history of colon cancer.", "colon cancer", {"negated", "family"}),
        ("Acute appendicitis.", "appendicitis", set()),
    ],
)
def test_assertion_table(sentence: str, target: str, expected: set[str]) -> None:
    assert judge(sentence, target) == expected


def test_several_mentions_in_one_sentence_are_judged_separately() -> None:
    text = "Possible pneumonia, no effusion, history of asthma, and a cough"
    words = ("pneumonia", "effusion", "asthma", "cough")
    targets = [(text.index(word), text.index(word) + len(word)) for word in words]
    results = assert_spans(text, [Span(0, len(text), "sentence")], [], targets)
    flags = [{flag for flag in FLAGS if result[flag]} for result in results]
    assert flags[0] == {"uncertain"}
    assert "negated" in flags[1] and "negated" not in flags[0]
    assert "historical" in flags[2]
    assert results[0]["section"] is None


def test_scope_stops_at_max_scope_tokens() -> None:
    sentence = "No fever one two three four five six seven eight nine ten eleven twelve rash"
    assert judge(sentence, "fever") == {"negated"}
    assert judge(sentence, "rash") == set()


def test_scope_stays_inside_the_sentence() -> None:
    text = "No fever. Cough present."
    sentences = [Span(0, 9, "sentence"), Span(10, len(text), "sentence")]
    result = assert_spans(text, sentences, [], [(10, 15)])[0]
    assert not result["negated"]


def _pipeline_note(text: str) -> Note:
    note = Note(text)
    for stage in (TextNormalizer(), SectionDetector(), SentenceSplitter()):
        stage([note])
    return note


def test_sections_add_family_and_historical() -> None:
    text = "FAMILY HISTORY: Diabetes.\nPAST MEDICAL HISTORY: Asthma.\nASSESSMENT AND PLAN: Cough.\n"
    note = _pipeline_note(text)
    targets = [(text.index(word), text.index(word) + len(word)) for word in ("Diabetes", "Asthma", "Cough")]
    results = assert_spans(text, note.layer("sentences"), note.layer("sections"), targets)
    assert results[0]["family"] and results[0]["section"] == "family_history"
    assert results[1]["historical"] and results[1]["section"] == "pmh"
    assert not results[2]["historical"] and not results[2]["family"]
    assert results[2]["section"] == "assessment_plan"


def test_stage_assigns_new_spans_and_keeps_attributes() -> None:
    text = "HPI: Denies chest pain. Possible pneumonia.\n"
    note = _pipeline_note(text)
    original = [
        Span(text.index("chest pain"), text.index("chest pain") + 10, "SYMPTOM", {"cui": "C1"}, "terms"),
        Span(text.index("pneumonia"), text.index("pneumonia") + 9, "PROBLEM", {}, "terms"),
    ]
    note.layers["mentions"] = original
    stage = create_stage("carelm.context.v1")
    assert isinstance(stage, ContextAssertion)
    stage.warm_up()
    stage([note])
    pain, pneumonia = note.layers["mentions"]
    assert pain.attributes["negated"] and pain.attributes["cui"] == "C1" and pain.label == "SYMPTOM"
    assert pneumonia.attributes["uncertain"] and not pneumonia.attributes["negated"]
    assert pain.attributes["section"] == "hpi"
    assert original[0].attributes == {"cui": "C1"} and note.layers["mentions"] is not original
    assert stage.to_dict() == {"stage": "carelm.context.v1", "params": {}}


def test_stage_without_mentions_writes_an_empty_layer() -> None:
    note = _pipeline_note("No acute distress.")
    ContextAssertion()([note])
    assert note.layers["mentions"] == []


def _rules(**rule: object) -> dict[str, object]:
    return {"version": 1, "rules": [{"phrase": "no", "category": "NEGATED_EXISTENCE", "direction": "forward", **rule}]}


@pytest.mark.parametrize(
    "data",
    [
        _rules(colour="red"),
        {**_rules(), "extra": 1},
        _rules(category="NEGATION"),
        _rules(direction="sideways"),
        _rules(max_scope=0),
        _rules(terminates=["NOT_A_CATEGORY"]),
        {"version": 2, "rules": _rules()["rules"]},
        {"version": 1, "rules": []},
        {"version": 1, "rules": _rules()["rules"] * 2},
        {**_rules(), "section_categories": {"pmh": ["PAST"]}},
    ],
)
def test_rules_loading_rejects_bad_rules(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        parse_context_rules(data, "test.json")


def test_custom_rules_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    path.write_text(json.dumps(_rules(phrase="nope")), encoding="utf-8")
    rules = load_context_rules(str(path))
    text = "nope fever"
    assert assert_spans(text, [Span(0, len(text), "s")], [], [(5, 10)], rules)[0]["negated"]
    stage = ContextAssertion(rules_path=str(path))
    assert stage.params == {"rules_path": str(path)}
    with pytest.raises(ConfigError):
        ContextAssertion(rules_path=str(tmp_path / "missing.json")).warm_up()


def test_shipped_rules_load() -> None:
    rules = load_context_rules()
    assert rules.rule_for("No  Evidence of").category == "NEGATED_EXISTENCE"
    assert rules.section_categories["family_history"] == frozenset({"FAMILY"})
