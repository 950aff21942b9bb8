"""Tests of the dictionary term matcher (``carelm.terms.v1``) and the terminology builder."""

from __future__ import annotations

import gzip
import json

import pytest

from carelm.core.errors import ConfigError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.core.types import Note
from carelm.extract.terminology_build import build_terminology, clean_icd_term
from carelm.extract.terms import TermMatcher, is_case_sensitive, load_terminology, mentions_text

TINY = [
    {"term": "diabetes", "type": "PROBLEM", "concept": "D1"},
    {"term": "diabetes mellitus", "type": "PROBLEM", "concept": "D2"},
    {"term": "type 2 diabetes mellitus", "type": "PROBLEM", "concept": "D3"},
    {"term": "chest pain", "type": "SYMPTOM", "concept": "S1"},
    {"term": "headache", "type": "SYMPTOM", "concept": "S2"},
    {"term": "artery", "type": "ANATOMY", "concept": "A1"},
    {"term": "X-ray", "type": "TEST", "concept": "T1"},
    {"term": "CBC", "type": "TEST", "concept": "T2", "canonical": "complete blood count"},
    {"term": "PE", "type": "PROBLEM", "concept": "P1", "canonical": "pulmonary embolism", "not_followed_by": ":"},
    {"term": "MI", "type": "PROBLEM", "concept": "P2", "canonical": "myocardial infarction"},
    {"term": "heart attack", "type": "PROBLEM", "concept": "P2", "canonical": "myocardial infarction"},
    {"term": "Crohn's disease", "type": "PROBLEM", "concept": "P3"},
    {"term": "metformin", "type": "DRUG", "concept": "R1"},
    {"term": "in", "type": "PROBLEM", "concept": "JUNK1"},
    {"term": "of the", "type": "PROBLEM", "concept": "JUNK2"},
    {"term": "12", "type": "TEST", "concept": "JUNK3"},
]


@pytest.fixture(scope="module")
def tiny() -> TermMatcher:
    stage = TermMatcher(terms=TINY)
    stage.warm_up()
    return stage


@pytest.fixture(scope="module")
def shipped() -> TermMatcher:
    stage = TermMatcher()
    stage.warm_up()
    return stage


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("History of type 2 diabetes mellitus.", [("type 2 diabetes mellitus", "D3")]),
        ("Known diabetes mellitus and diabetes.", [("diabetes mellitus", "D2"), ("diabetes", "D1")]),
        ("Recurrent headaches and chest pains.", [("headaches", "S2"), ("chest pains", "S1")]),
        ("Calcified arteries noted.", [("arteries", "A1")]),
        ("Chest-pain since noon.", [("Chest-pain", "S1")]),
        ("CHEST PAIN at rest.", [("CHEST PAIN", "S1")]),
        ("xray and x ray and X-ray", [("x ray", "T1"), ("X-ray", "T1")]),
        ("CBC drawn; cbc repeated.", [("CBC", "T2")]),
        ("Rule out PE. The pe teacher.", [("PE", "P1")]),
        ("PE: lungs clear.", []),
        ("Prior MI; mi casa.", [("MI", "P2")]),
        ("Had a heart-attack in May.", [("heart-attack", "P2")]),
        ("Crohn's disease, also written Crohns disease.", [("Crohn's disease", "P3"), ("Crohns disease", "P3")]),
        ("prediabetes and metformins", [("metformins", "R1")]),
        ("chestpain headacheless metforminXR", []),
        ("Lives in a house of the 12 rooms.", []),
    ],
)
def test_tiny_terminology_matches(tiny: TermMatcher, text: str, expected: list[tuple[str, str]]) -> None:
    found = [(span.text_of(text), span.attributes["concept"]) for span in tiny.find(text)]
    assert found == expected


def test_spans_carry_type_and_attributes(tiny: TermMatcher) -> None:
    text = "CBC, metformin, headache"
    spans = tiny.find(text)
    assert mentions_text(text, spans) == [("CBC", "TEST"), ("metformin", "DRUG"), ("headache", "SYMPTOM")]
    assert spans[0].attributes == {"concept": "T2", "term": "complete blood count", "source": "custom"}
    assert spans[1].attributes["term"] == "metformin"
    assert all(span.stage == "carelm.terms.v1" for span in spans)


def test_types_filter_and_params_round_trip() -> None:
    stage = create_stage("carelm.terms.v1", terms=TINY, types=["DRUG"])
    stage.warm_up()
    assert [span.label for span in stage.find("metformin for diabetes")] == ["DRUG"]
    assert stage.to_dict() == {"stage": "carelm.terms.v1", "params": {"terms": TINY, "types": ["DRUG"]}}


def test_terms_path_jsonl_gz(tmp_path) -> None:
    path = tmp_path / "terms.jsonl.gz"
    lines = [json.dumps({"version": 1}), *(json.dumps(entry) for entry in TINY[:4])]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    stage = TermMatcher(terms_path=str(path))
    stage.warm_up()
    assert [span.attributes["concept"] for span in stage.find("diabetes and chest pain")] == ["D1", "S1"]


@pytest.mark.parametrize(
    "terms",
    [
        [{"term": "x", "type": "DISEASE", "concept": "1"}],
        [{"term": "x", "type": "DRUG"}],
        [{"term": "xyz", "type": "DRUG", "concept": "1", "colour": "red"}],
    ],
)
def test_bad_entries_are_config_errors(terms: list) -> None:
    with pytest.raises(ConfigError):
        TermMatcher(terms=terms).warm_up()


def test_missing_file_and_bad_types_are_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_terminology(tmp_path / "absent.jsonl")
    with pytest.raises(ConfigError):
        TermMatcher(types=["DISEASE"])


def test_case_sensitivity_rule() -> None:
    assert is_case_sensitive("PE") and is_case_sensitive("N/V") and is_case_sensitive("DVT")
    assert not is_case_sensitive("AFib") and not is_case_sensitive("chest pain") and not is_case_sensitive("CABG X")


def test_in_a_pipeline() -> None:
    pipeline = Pipeline([create_stage("carelm.normalize.v1"), TermMatcher(terms=TINY)])
    result = pipeline.run([Note(text="Chest\u2011pain and CBC.")])
    assert [span.label for span in result.done[0].layer("mentions")] == ["SYMPTOM", "TEST"]


@pytest.mark.parametrize(
    ("text", "label", "term"),
    [
        ("She has hypertension.", "PROBLEM", "hypertension"),
        ("Admitted with chest pain.", "SYMPTOM", "chest pain"),
        ("Continue metformin 500 mg.", "DRUG", "metformin"),
        ("CBC pending.", "TEST", "CBC"),
        ("Known HTN and T2DM.", "PROBLEM", "HTN"),
        ("s/p CABG 2019.", "PROCEDURE", "CABG"),
        ("Complains of SOB and N/V.", "SYMPTOM", "SOB"),
    ],
)
def test_shipped_terminology_common_terms(shipped: TermMatcher, text: str, label: str, term: str) -> None:
    found = mentions_text(text, shipped.find(text))
    assert (term, label) in found


def test_shipped_terminology_longest_and_case(shipped: TermMatcher) -> None:
    text = "Type 2 diabetes mellitus without complications. The pe of the mi."
    found = mentions_text(text, shipped.find(text))
    assert found[0] == ("Type 2 diabetes mellitus", "PROBLEM")
    assert all(covered not in ("pe", "mi") for covered, _ in found)


def test_clean_icd_term() -> None:
    assert clean_icd_term("Essential (primary) hypertension") == "Essential hypertension"
    assert clean_icd_term("Chest pain, unspecified") == "Chest pain"
    assert clean_icd_term("Asthma NOS") == "Asthma"
    assert clean_icd_term("Other chest pain") is None
    assert clean_icd_term("Conditions in E00-E89") is None


def test_build_without_shared_data(tmp_path) -> None:
    out = tmp_path / "terms.jsonl.gz"
    stats = build_terminology(None, out)
    assert stats["by_source"].keys() == {"carelm", "icd10cm"}
    entries = load_terminology(out)
    assert len(entries) == stats["entries"] > 10_000
    by_term = {entry["term"]: entry for entry in entries}
    assert by_term["HTN"]["concept"] == "I10" and by_term["HTN"]["type"] == "PROBLEM"
    assert by_term["chest pain"]["concept"] == "R07.9" and "Chest pain" not in by_term
    assert by_term["Essential hypertension"] == {
        "term": "Essential hypertension",
        "type": "PROBLEM",
        "concept": "I10",
        "source": "icd10cm",
        "canonical": "Essential (primary) hypertension",
    }
    assert by_term["Fever of other and unknown origin"]["type"] == "SYMPTOM"
