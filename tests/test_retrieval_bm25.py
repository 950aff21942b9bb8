"""Retrieval building blocks without a model: tokenisation, BM25 scoring, fusion, chunking, offsets, filters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carelm.core.errors import InputError
from carelm.core.types import Span
from carelm.retrieval.bm25 import Bm25Index
from carelm.retrieval.chunking import sentence_bounds, sentence_runs
from carelm.retrieval.filters import PassageFilter
from carelm.retrieval.fusion import fuse
from carelm.retrieval.records import OffsetMap, RecordNote, note_passages
from carelm.retrieval.search import top_rows
from carelm.retrieval.tokenize import TokenizerConfig, stem, tokenize


@pytest.mark.parametrize(("text", "terms"), [
    ("Patients were treated", ["patient", "treat"]),
    ("treatment TREATING treats", ["treat", "treat", "treat"]),
    ("IL-6 and COVID-19, 5mg", ["il", "6", "covid", "19", "5mg"]),
    ("activated activation activates", ["activat", "activat", "activat"]),
    ("the of and", []),
    ("stopped admitted called", ["stop", "admit", "call"]),
    ("diseases disease", ["diseas", "diseas"]),
    ("virus analysis", ["virus", "analysis"]),  # -us, -is endings are not plurals
])
def test_tokenize(text, terms):
    assert tokenize(text) == terms


def test_tokenizer_options_turn_off_stemming_and_stop_words():
    config = TokenizerConfig(stem=False, stop_words=False)
    assert tokenize("The patients", config) == ["the", "patients"]
    assert TokenizerConfig.from_dict(config.to_dict()) == config
    assert stem("cat") == "cat"  # short words stay


# Tiny corpus, k1 = 1.2, b = 0.75: lengths 2, 3, 1 so avgdl = 2.
CORPUS = [["cough", "fever"], ["cough", "cough", "rash"], ["headache"]]


def test_bm25_scores_match_hand_computed_values():
    index = Bm25Index.build(CORPUS, k1=1.2, b=0.75)
    # "cough": df 2, idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700036
    #   doc 0: tf 1, norm 1.2 * (0.25 + 0.75 * 2/2) = 1.2   -> 1 * 2.2 / 2.2 = 1.0      -> 0.4700036
    #   doc 1: tf 2, norm 1.2 * (0.25 + 0.75 * 3/2) = 1.65  -> 2 * 2.2 / 3.65 = 1.2054795 -> 0.5665797
    assert index.scores(["cough"]) == pytest.approx([0.4700036, 0.5665797, 0.0], abs=1e-6)
    # "fever", "rash": df 1, idf = ln(1 + 2.5 / 1.5) = 0.9808293
    #   doc 0 (fever): 1.0 * 0.9808293; doc 1 (rash): 2.2 / 2.65 = 0.8301887 -> 0.8142734
    assert index.scores(["fever", "rash"]) == pytest.approx([0.9808293, 0.8142734, 0.0], abs=1e-6)
    # a repeated query term counts twice; an unknown one adds nothing
    assert index.scores(["headache", "headache", "unknown"])[2] == pytest.approx(2 * math.log(1 + 2.5 / 1.5) *
                                                                                2.2 / (1 + 1.2 * (0.25 + 0.375)))


def test_bm25_add_and_remove_equal_a_fresh_build():
    built = Bm25Index.build(CORPUS[:2]).add(CORPUS[2:])
    fresh = Bm25Index.build(CORPUS)
    for query in (["cough"], ["rash", "headache"]):
        assert built.scores(query) == pytest.approx(fresh.scores(query))
    removed = fresh.remove(np.array([False, True, False]))
    assert "rash" not in removed.terms and "cough" in removed.terms
    expected = Bm25Index.build([CORPUS[0], CORPUS[2]])
    assert removed.scores(["cough", "headache"]) == pytest.approx(expected.scores(["cough", "headache"]))
    assert removed.size == 2 and removed.ptr[-1] == len(removed.docs) == 3


def test_bm25_round_trips_through_files(tmp_path):
    index = Bm25Index.build(CORPUS, k1=1.2, b=0.75)
    index.save(tmp_path)
    loaded = Bm25Index.load(tmp_path, k1=1.2, b=0.75)
    assert loaded.terms == index.terms
    assert loaded.scores(["cough", "fever"]) == pytest.approx(index.scores(["cough", "fever"]))


def test_fusion_methods():
    lexical, dense = np.array([10.0, 5.0, 0.0]), np.array([0.2, 0.9, 0.5])
    assert fuse(lexical, dense, "minmax", 0.5) == pytest.approx([0.5, 0.5 * 1 + 0.5 * 0.5, 0.5 * 3 / 7])
    z = fuse(lexical, dense, "zscore", 0.0)
    assert z == pytest.approx((lexical - lexical.mean()) / lexical.std())
    rrf = fuse(lexical, dense, "rrf", 0.5)
    assert rrf == pytest.approx([0.5 / 61 + 0.5 / 63, 0.5 / 62 + 0.5 / 61, 0.5 / 63 + 0.5 / 62])
    assert fuse(np.array([1.0, 1.0]), np.array([0.3, 0.3]), "minmax") == pytest.approx([0.0, 0.0])
    with pytest.raises(ValueError, match="accepted: minmax, zscore, rrf"):
        fuse(lexical, dense, "max")


def test_top_rows_orders_by_score_then_row_and_respects_the_mask():
    scores = np.array([0.5, 0.9, 0.5, 0.1])
    assert top_rows(scores, 3).tolist() == [1, 0, 2]
    assert top_rows(scores, 10, np.array([True, False, True, False])).tolist() == [0, 2]


def test_sentence_runs_keep_a_word_budget():
    text = "Fever since Monday. Cough is dry!\nNo rash. " + " ".join(["word"] * 7) + "."
    bounds = sentence_bounds(text)
    assert [text[s:e] for s, e in bounds][:3] == ["Fever since Monday.", "Cough is dry!", "No rash."]
    runs = sentence_runs(text, bounds, max_words=5)
    pieces = [text[s:e] for s, e in runs]
    assert pieces[:2] == ["Fever since Monday.", "Cough is dry!\nNo rash."]
    assert all(len(p.split()) <= 5 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def test_record_passages_point_into_the_deidentified_text():
    raw = "HPI: Seen by John Smith today. Fever and cough.\nPlan: Rest."
    deid = "HPI: Seen by [NAME] today. Fever and cough.\nPlan: Rest."
    phi = [Span(13, 23, "NAME", {"new_start": 13, "new_end": 19})]
    assert raw[13:23] == "John Smith" and deid[13:19] == "[NAME]"
    to_deid = OffsetMap(phi, len(deid))
    assert (to_deid(5), to_deid(15), to_deid(15, "end"), to_deid(30)) == (5, 13, 19, 26)
    note = RecordNote("n1", "r1", "p1", "progress_note", deid, "2024-03-01T10:00:00",
                      sections=[Span(0, 48, "history"), Span(48, 59, "plan")],
                      sentences=[Span(5, 30, "sentence"), Span(31, 47, "sentence"), Span(48, 59, "sentence")],
                      phi=phi)
    assert raw[48:59] == "Plan: Rest."
    rows = note_passages(note)
    assert [(r["metadata"]["section"], r["text"]) for r in rows] == [
        ("history", "Seen by [NAME] today. Fever and cough."), ("plan", "Plan: Rest.")]
    for row in rows:
        assert deid[row["start"]:row["end"]] == row["text"]
        assert {key: value for key, value in row["metadata"].items() if key != "section"} == {
            "patient_id": "p1", "note_id": "n1", "record_id": "r1", "kind": "progress_note",
            "authored_at": "2024-03-01T10:00:00"}


def test_filters_build_a_row_mask():
    columns = {"note_id": np.array(["a", "b", "c", "d"], dtype=object),
               "patient_id": np.array(["p1", "p1", "p2", "p1"], dtype=object),
               "kind": np.array(["Discharge_Summary", "progress_note", "progress_note", None], dtype=object),
               "section": np.array(["plan", "history", "plan", None], dtype=object),
               "authored_at": np.array(["2024-01-05T08:00:00", "2024-02-01", None, "2023-12-31"], dtype=object)}
    assert PassageFilter.of().mask(columns.get) is None
    assert PassageFilter.of(patient="p1").mask(columns.get).tolist() == [True, True, False, True]
    assert PassageFilter.of(kinds=["discharge_summary"]).mask(columns.get).tolist() == [True, False, False, False]
    assert PassageFilter.of(sections=["PLAN"]).mask(columns.get).tolist() == [True, False, True, False]
    dated = PassageFilter.of(date_from="2024-01-05", date_to="2024-02-01T23:00:00")
    assert dated.mask(columns.get).tolist() == [True, True, False, False]
    with pytest.raises(InputError, match="date_from must be an ISO date"):
        PassageFilter.of(date_from="last week")
    with pytest.raises(InputError, match="is after date_to"):
        PassageFilter.of(date_from="2024-02-02", date_to="2024-02-01")


def unit_vectors(n: int, dims: int = 32, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_vector_index_graph_search_agrees_with_exact_scores_and_round_trips(tmp_path):
    from carelm.retrieval.search import rank
    from carelm.retrieval.vectors import VectorIndex

    matrix = unit_vectors(400)
    exact, graph = VectorIndex(matrix), VectorIndex(matrix, exact_limit=0)
    assert exact.exact and not graph.exact
    query = matrix[17] + 0.05 * unit_vectors(1, seed=3)[0]
    query /= np.linalg.norm(query)
    exact_rows, exact_scores = exact.top(query, 10)
    graph_rows, graph_scores = graph.top(query, 10)
    assert exact_rows[0] == graph_rows[0] == 17
    assert len(set(exact_rows) & set(graph_rows)) >= 9
    assert graph_scores == pytest.approx(exact_scores[: len(graph_scores)], abs=1e-4)
    lexical = np.zeros(400, np.float32)
    lexical[[5, 17]] = [2.0, 1.0]
    hybrid = rank(lexical, query, graph, mode="hybrid", k=3, depth=10)
    assert {row for row, _ in hybrid} >= {17} and len(hybrid) == 3
    graph.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, 32)
    assert np.array_equal(loaded.matrix, matrix)
    smaller = loaded.remove(np.arange(400) < 100)
    smaller.save(tmp_path)
    on_disk = (tmp_path / "vectors.usearch").read_bytes()
    assert matrix[50].tobytes() not in on_disk and matrix[150].tobytes() in on_disk
    assert VectorIndex.load(tmp_path, 32).size == 300
