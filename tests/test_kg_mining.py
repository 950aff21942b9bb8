"""Literature mining: Fisher's exact test, co-occurrence counting on hand-written abstracts, readers, JSONL output."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from carelm.core.errors import InputError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.kg.association import associate, fisher_greater
from carelm.kg.graphfile import read_jsonl
from carelm.kg.mining import (
    Abstract,
    cooccurrence,
    corpus_name,
    count_cooccurrence,
    mine,
    mined_graph,
    read_abstracts,
    write_graph_jsonl,
)

TERMS = [
    {"term": "migraine", "type": "PROBLEM", "concept": "G43.909", "source": "test"},
    {"term": "influenza", "type": "PROBLEM", "concept": "J11.1", "source": "test"},
    {"term": "flu", "type": "PROBLEM", "concept": "J11.1", "canonical": "influenza", "source": "test"},
    {"term": "headache", "type": "SYMPTOM", "concept": "R51.9", "source": "test"},
    {"term": "fever", "type": "SYMPTOM", "concept": "R50.9", "source": "test"},
    {"term": "nausea", "type": "SYMPTOM", "concept": "R11.0", "source": "test"},
    {"term": "sumatriptan", "type": "DRUG", "concept": "Compound::DB00669", "source": "test"},
    {"term": "oseltamivir", "type": "DRUG", "concept": "Compound::DB00198", "source": "test"},
    {"term": "ibuprofen", "type": "DRUG", "concept": "local:ibuprofen", "source": "test"},
]

# Twelve made-up abstracts.  Present mentions by document:
#   migraine p1-p5 (5), headache p1-p4 (4; p5 denies it), nausea p4, sumatriptan p1 p2 p4 (3),
#   influenza p6-p9 (4; p8 says "flu"), fever p6-p10 (5), oseltamivir p6 p7 p9 (3), ibuprofen p7 p9 p10 (3).
ABSTRACTS = [
    Abstract("p1", "Migraine and its treatment", "Attacks often begin with headache. Sumatriptan relieved the pain."),
    Abstract("p2", "", "In migraine the headache is one-sided. Sumatriptan was given early."),
    Abstract("p3", "", "Headache was the main complaint in migraine clinics."),
    Abstract("p4", "", "Chronic migraine patients described daily headache and nausea. Sumatriptan helped most."),
    Abstract("p5", "", "Migraine was diagnosed. There was no headache during the aura."),
    Abstract("p6", "", "Influenza causes fever. Oseltamivir shortens influenza."),
    Abstract("p7", "", "Fever is common in influenza. Oseltamivir and ibuprofen were prescribed."),
    Abstract("p8", "Seasonal flu", "The flu season brought fever to many households."),
    Abstract("p9", "", "Influenza with high fever was treated with oseltamivir and ibuprofen."),
    Abstract("p10", "", "Ibuprofen reduced fever in children."),
    Abstract("p11", "", "A study of sleep quality in adults."),
    Abstract("p12", "", "Exercise improves mood in older adults."),
]
MIGRAINE, HEADACHE = "Disease::mined:migraine", "Symptom::mined:headache"
INFLUENZA, FEVER = "Disease::mined:influenza", "Symptom::mined:fever"
SUMATRIPTAN, OSELTAMIVIR, IBUPROFEN = ("Compound::mined:sumatriptan", "Compound::mined:oseltamivir",
                                       "Compound::mined:ibuprofen")


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    names = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1")
    stages = [create_stage(name) for name in names]
    stages += [create_stage("carelm.terms.v1", terms=TERMS), create_stage("carelm.context.v1")]
    built = Pipeline(stages)
    built.warm_up()
    return built


@pytest.fixture(scope="module")
def mined(pipeline):
    return cooccurrence(ABSTRACTS, pipeline, min_count=2, licence="CC-BY-4.0", source="mined:test")


def _cooccurs(edges):
    return {(e.source_id, e.target_id): e for e in edges if e.kind == "cooccurs"}


# --- Fisher's exact test -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("both", "with_x", "with_y", "total", "expected"),
    [
        (3, 4, 4, 8, 17 / 70),  # [C(4,3)C(4,1) + C(4,4)C(4,0)] / C(8,4)
        (2, 2, 2, 10, 1 / 45),  # C(2,2)C(8,0) / C(10,2)
        (4, 5, 4, 12, 5 / 495),  # migraine-headache below
        (3, 3, 5, 12, 10 / 220),  # sumatriptan-migraine
        (2, 3, 3, 12, 28 / 220),  # oseltamivir-ibuprofen: [C(3,2)C(9,1) + 1] / C(12,3)
        (0, 4, 4, 8, 1.0),  # nothing shared: the whole distribution
        (1, 4, 4, 8, 1 - 1 / 70),  # below the mode: 1 - P(K = 0)
        (5, 5, 5, 5, 1.0),  # every document holds both: no evidence of association
    ],
)
def test_fisher_matches_hand_computed_values(both, with_x, with_y, total, expected):
    assert fisher_greater(both, with_x, with_y, total) == pytest.approx(expected, rel=1e-9)


def test_fisher_matches_scipy_on_many_tables():
    stats = pytest.importorskip("scipy.stats")
    for total in (7, 40, 500, 5000):
        for with_x, with_y in ((1, 1), (3, total // 2), (total // 3, total // 4), (total - 2, 5)):
            low, high = max(0, with_x + with_y - total), min(with_x, with_y)
            for both in sorted({low, (low + high) // 2, high, min(high, low + 1)}):
                table = [[both, with_x - both], [with_y - both, total - with_x - with_y + both]]
                reference = stats.fisher_exact(table, alternative="greater")[1]
                assert fisher_greater(both, with_x, with_y, total) == pytest.approx(reference, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("table", [(3, 2, 5, 10), (1, 5, 5, 8), (2, 3, 3, 2), (-1, 2, 2, 5)])
def test_fisher_refuses_impossible_tables(table):
    with pytest.raises(ValueError, match="impossible"):
        fisher_greater(*table)


def test_associate_gives_expected_ratio_and_bounded_npmi():
    found = associate(4, 5, 4, 12)
    assert found.expected == pytest.approx(5 * 4 / 12)
    assert found.ratio == pytest.approx(4 / (5 * 4 / 12))
    assert found.npmi == pytest.approx(math.log(found.ratio) / -math.log(4 / 12))
    assert 0 < found.npmi <= 1
    assert associate(2, 2, 2, 10).npmi == pytest.approx(1.0)


# --- counting and edges ------------------------------------------------------------------------
def test_counts_present_mentions_by_canonical_term(pipeline):
    counts = count_cooccurrence(ABSTRACTS, pipeline)
    assert counts.documents == 12 and counts.failed == 0
    documents = {key: term.documents for key, term in counts.terms.items()}
    assert documents[("PROBLEM", "migraine")] == 5
    assert documents[("SYMPTOM", "headache")] == 4  # p5 denies it
    assert documents[("PROBLEM", "influenza")] == 4  # "flu" counts as influenza
    assert counts.pairs[("disease-symptom", ("PROBLEM", "migraine"), ("SYMPTOM", "headache"))].documents == 4
    assert counts.pairs[("drug-drug", ("DRUG", "ibuprofen"), ("DRUG", "oseltamivir"))].documents == 2
    assert ("drug-disease", ("DRUG", "sumatriptan"), ("SYMPTOM", "headache")) not in counts.pairs


def test_significant_pairs_become_edges_with_counts_and_p_values(mined):
    _, edges = mined
    found = _cooccurs(edges)
    assert set(found) == {(MIGRAINE, HEADACHE), (INFLUENZA, FEVER), (SUMATRIPTAN, MIGRAINE),
                          (OSELTAMIVIR, INFLUENZA)}
    expected = {(MIGRAINE, HEADACHE): ("disease-symptom", 4, 5, 4), (INFLUENZA, FEVER): ("disease-symptom", 4, 4, 5),
                (SUMATRIPTAN, MIGRAINE): ("drug-disease", 3, 3, 5), (OSELTAMIVIR, INFLUENZA): ("drug-disease", 3, 3, 4)}
    for ends, (relation, both, with_x, with_y) in expected.items():
        attributes = found[ends].attributes
        assert attributes["relation"] == relation
        assert (attributes["documents"], attributes["source_documents"], attributes["target_documents"]) == (
            both, with_x, with_y)
        assert attributes["corpus_documents"] == 12
        assert attributes["p_value"] == pytest.approx(fisher_greater(both, with_x, with_y, 12), rel=1e-3)
        assert attributes["expected"] == pytest.approx(with_x * with_y / 12, abs=1e-4)
        assert 0 < found[ends].weight <= 1


def test_every_edge_carries_article_evidence_source_and_licence(mined):
    nodes, edges = mined
    assert edges
    for edge in edges:
        assert edge.evidence and all("pmid" in item for item in edge.evidence)
        assert (edge.source, edge.licence) == ("mined:test", "CC-BY-4.0")
    for node in nodes:
        assert (node.source, node.licence) == ("mined:test", "CC-BY-4.0")
    migraine_headache = _cooccurs(edges)[(MIGRAINE, HEADACHE)]
    assert [item["pmid"] for item in migraine_headache.evidence if "sentence_index" not in item] == [
        "p1", "p2", "p3", "p4"]
    sentence = [item for item in migraine_headache.evidence if "sentence_index" in item]
    assert sentence == [{"pmid": "p2", "sentence_index": 0}]  # p1 has them in different sentences


def test_concept_links_to_icd10_and_graph_ids(mined):
    nodes, edges = mined
    links = {(e.source_id, e.kind, e.target_id) for e in edges if e.kind != "cooccurs"}
    assert (MIGRAINE, "maps_to", "ICD10::G43.909") in links
    assert (FEVER, "maps_to", "ICD10::R50.9") in links
    assert (SUMATRIPTAN, "same_as", "Compound::DB00669") in links
    by_id = {node.id: node for node in nodes}
    assert by_id[INFLUENZA].name == "influenza" and "flu" in by_id[INFLUENZA].synonyms
    assert IBUPROFEN not in by_id  # none of its pairs is significant


def test_thresholds_are_parameters(pipeline):
    counts = count_cooccurrence(ABSTRACTS, pipeline)
    _, loose = mined_graph(counts, min_count=2, max_p=0.2, licence="x", source="s")
    assert (IBUPROFEN, OSELTAMIVIR) in _cooccurs(loose)  # p = 28/220
    _, strict = mined_graph(counts, min_count=4, licence="x", source="s")
    assert set(_cooccurs(strict)) == {(MIGRAINE, HEADACHE), (INFLUENZA, FEVER)}


def test_evidence_keeps_at_most_ten_articles(pipeline):
    shared = [Abstract(f"a{i}", "", "Migraine with headache.") for i in range(12)]
    other = [Abstract(f"b{i}", "", "Sleep in adults.") for i in range(12)]
    _, edges = cooccurrence(shared + other, pipeline, licence="x", source="s")
    edge = _cooccurs(edges)[(MIGRAINE, HEADACHE)]
    assert edge.attributes["documents"] == 12
    assert [item["pmid"] for item in edge.evidence][:10] == [f"a{i}" for i in range(10)]
    assert len(edge.evidence) == 11 and edge.evidence[-1] == {"pmid": "a0", "sentence_index": 0}


# --- readers -------------------------------------------------------------------------------------
def test_reads_beir_jsonl_with_any_id_field(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [{"_id": "1", "title": "A title", "text": "Body one.", "metadata": {}},
            {"pmid": 22, "abstract": "Body two."}, {"id": "x3", "title": "Only a title", "text": ""}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    found = list(read_abstracts(path))
    assert found == [Abstract("1", "A title", "Body one."), Abstract("22", "", "Body two."),
                     Abstract("x3", "Only a title", "")]
    assert found[0].text == "A title\n\nBody one."


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "invalid JSON"), ('["a list"]', "one JSON object"), ('{"title": "t", "text": "b"}', "id"),
     ('{"_id": "1", "title": "t"}', "body"), ('{"_id": "1", "title": "", "text": " "}', "non-empty")],
)
def test_bad_jsonl_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "1", "title": "t", "text": "b"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        list(read_abstracts(path))
    assert caught.value.location == f"{path}:2"


def test_reads_pubtator_and_pubmedqa(tmp_path):
    pubtator = tmp_path / "docs.txt"
    pubtator.write_text("7|t|A made-up title.\n7|a|An invented abstract.\n7\t0\t1\tA\tDisease\tD1\n\n"
                        "8|t|Second.\n8|a|More text.\n", encoding="utf-8")
    assert list(read_abstracts(pubtator)) == [Abstract("7", "A made-up title.", "An invented abstract."),
                                              Abstract("8", "Second.", "More text.")]
    qa = tmp_path / "dev.json"
    qa.write_text(json.dumps({"123": {"QUESTION": "Does it work?", "CONTEXTS": ["Part one.", "Part two."],
                                      "LONG_ANSWER": "It does."}}), encoding="utf-8")
    assert list(read_abstracts(qa)) == [Abstract("123", "Does it work?", "Part one. Part two. It does.")]
    qa.write_text(json.dumps({"123": {"QUESTION": "q", "CONTEXTS": "not a list"}}), encoding="utf-8")
    with pytest.raises(InputError, match="CONTEXTS"):
        list(read_abstracts(qa))


# --- output --------------------------------------------------------------------------------------
def test_mine_writes_an_interchange_file_the_graph_reader_accepts(tmp_path, pipeline):
    corpus = tmp_path / "demo" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_text("".join(json.dumps({"_id": a.id, "title": a.title, "text": a.abstract}) + "\n"
                              for a in ABSTRACTS), encoding="utf-8")
    out = tmp_path / "mined.jsonl"
    seen = []
    counts = mine(corpus, out, "CC-BY-4.0", min_count=2, progress=lambda done, total: seen.append((done, total)),
                  pipeline=pipeline)
    assert counts["documents"] == 12 and counts["source"] == "mined:demo"
    assert counts["edges_by_relation"] == {"disease-symptom": 2, "drug-disease": 2, "drug-drug": 0}
    assert seen[-1] == (12, 12)
    nodes, edges, meta = read_jsonl(out)
    assert meta["licence"] == "CC-BY-4.0" and meta["documents"] == 12 and meta["format"] == "carelm-kg"
    assert len(nodes) == counts["nodes"] and len(edges) == counts["edges"]
    assert all(item.get("pmid") for edge in edges for item in edge.evidence)
    limited = mine(corpus, tmp_path / "few.jsonl", "CC-BY-4.0", limit=3, pipeline=pipeline)
    assert limited["abstracts"] == 3


def test_write_graph_jsonl_gzip_round_trip(tmp_path, mined):
    nodes, edges = mined
    path = tmp_path / "mined.jsonl.gz"
    lines = write_graph_jsonl(nodes, edges, path, {"source": "mined:test"})
    assert lines == 1 + len(nodes) + len(edges)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        assert json.loads(handle.readline())["meta"]["source"] == "mined:test"
    read_nodes, read_edges, _ = read_jsonl(path)
    assert {n.id for n in read_nodes} == {n.id for n in nodes}
    assert {(e.source_id, e.target_id, e.kind) for e in read_edges} == {(e.source_id, e.target_id, e.kind)
                                                                        for e in edges}
    assert not (tmp_path / "mined.jsonl.gz.partial").exists()


@pytest.mark.parametrize(("path", "name"), [("data/scifact/corpus.jsonl", "scifact"),
                                            ("bc5cdr/pubtator/train.txt", "bc5cdr"),
                                            ("pubmed-2024.jsonl", "pubmed-2024")])
def test_corpus_name_skips_generic_file_names(path, name):
    assert corpus_name(Path(path)) == name
