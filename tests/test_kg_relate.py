"""Relation mining: candidate pairs in made-up abstracts, a tiny relation classifier trained here, the edges it
writes (with sentences and scores) and the interaction checks that read them; the CLI wrappers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carelm.cli.main import app
from carelm.core.errors import ConfigError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.kg.abstracts import Abstract
from carelm.kg.graph import KnowledgeGraph
from carelm.kg.graphfile import read_jsonl
from carelm.kg.relate import KINDS, candidates, relate, relation_graph
from carelm.kg.therapy import interactions
from carelm.lab.data import ClassifyExample
from tests.test_kg_relations import _ddi_document

pytest.importorskip("transformers")

TERMS = [
    {"term": "zorbatol", "type": "DRUG", "concept": "local:zorbatol", "source": "test"},
    {"term": "quindex", "type": "DRUG", "concept": "local:quindex", "source": "test"},
    {"term": "melvarin", "type": "DRUG", "concept": "local:melvarin", "source": "test"},
    {"term": "hepatitis", "type": "PROBLEM", "concept": "K75.9", "source": "test"},
    {"term": "anemia", "type": "PROBLEM", "concept": "D64.9", "source": "test"},
]
TINY_BERT = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64, "max_position_embeddings": 128}
ABSTRACTS = [
    Abstract("a1", "", "Zorbatol induced hepatitis in three adults. Anemia was studied separately."),
    Abstract("a2", "", "We report hepatitis induced by zorbatol. Quindex increases melvarin levels."),
    Abstract("a3", "", "Zorbatol was compared with quindex in anemia. Quindex increases melvarin levels sharply."),
    Abstract("a4", "", "No hepatitis was seen with zorbatol. Melvarin and quindex were both given."),
]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    names = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1")
    stages = [create_stage(name) for name in names]
    stages += [create_stage("carelm.terms.v1", terms=TERMS), create_stage("carelm.context.v1")]
    built = Pipeline(stages)
    built.warm_up()
    return built


def _processed(pipeline: Pipeline, abstract: Abstract):
    from carelm.core.types import Note

    (result,) = pipeline.batches([Note(text=abstract.text, id=abstract.id)], 1)
    (note,) = result.done
    return note


def test_cid_candidates_are_marked_shared_sentences(pipeline) -> None:
    terms: dict = {}
    found = candidates(_processed(pipeline, ABSTRACTS[0]), KINDS["cid"], "tags", terms)
    pairs = {(c.first[1], c.second[1]): c for c in found}
    # zorbatol and hepatitis share the first sentence; anemia has no drug in its sentence
    assert set(pairs) == {("zorbatol", "hepatitis")}
    assert pairs["zorbatol", "hepatitis"].text == "<e1>Zorbatol</e1> induced <e2>hepatitis</e2> in three adults."
    assert pairs["zorbatol", "hepatitis"].sentence == "Zorbatol induced hepatitis in three adults."
    assert terms["DRUG", "zorbatol"].documents == 1 and terms["PROBLEM", "anemia"].documents == 1
    blinded = candidates(_processed(pipeline, ABSTRACTS[0]), KINDS["cid"], "blind", {})
    assert blinded[0].text == "CHEMICAL induced DISEASE in three adults."


def test_ddi_candidates_blind_the_pair_and_the_other_drugs(pipeline) -> None:
    found = candidates(_processed(pipeline, ABSTRACTS[2]), KINDS["ddi"], "blind", {})
    texts = {(c.first[1], c.second[1]): c.text for c in found}
    assert texts == {
        ("melvarin", "quindex"): "DRUG2 increases DRUG1 levels sharply.",
        ("quindex", "zorbatol"): "DRUG2 was compared with DRUG1 in anemia.",
    }
    # negated mentions are not candidates: "No hepatitis was seen" leaves no cid pair in a4
    assert candidates(_processed(pipeline, ABSTRACTS[3]), KINDS["cid"], "tags", {}) == []


def _train(root: Path, rows: list[tuple[str, str]]) -> Path:
    from carelm.lab.classify import train_classifier
    from carelm.lab.trainer import TrainConfig

    (root / "tiny-bert.json").write_text(json.dumps(TINY_BERT))
    examples = [ClassifyExample(text, (label,), f"x{i}") for i, (text, label) in enumerate(rows * 6)]
    config = TrainConfig(epochs=8, batch_size=8, learning_rate=1e-2, max_length=32, seed=3, dev_fraction=0.0,
                         patience=3)
    result = train_classifier(examples, root / "model", base=root / "tiny-bert.json", config=config,
                              dev=examples[: len(rows)])
    return result.path


CID_ROWS = [
    ("<e1>Zorbatol</e1> induced <e2>hepatitis</e2> in three adults.", "CID"),
    ("We report <e2>hepatitis</e2> induced by <e1>zorbatol</e1>.", "CID"),
    ("<e1>Quindex</e1> induced <e2>anemia</e2> in one patient.", "CID"),
    ("<e1>Zorbatol</e1> was compared with quindex in <e2>anemia</e2>.", "none"),
    ("<e1>Quindex</e1> was compared in <e2>hepatitis</e2> cohorts.", "none"),
    ("<e1>Melvarin</e1> was studied in <e2>anemia</e2>.", "none"),
]
DDI_ROWS = [
    ("DRUG1 increases DRUG2 levels.", "mechanism"),
    ("DRUG2 increases DRUG1 levels sharply.", "mechanism"),
    ("DRUG1 increases the DRUG2 levels in plasma.", "mechanism"),
    ("DRUG1 and DRUG2 were both given.", "none"),
    ("DRUG2 was compared with DRUG1 in anemia.", "none"),
    ("DRUG1 was compared with DRUG2.", "none"),
]


@pytest.fixture(scope="module")
def cid_model(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("cid"), CID_ROWS)


@pytest.fixture(scope="module")
def ddi_model(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("ddi"), DDI_ROWS)


def test_accepted_cid_pairs_become_induces_edges_with_sentences(cid_model, pipeline) -> None:
    nodes, edges, counts = relation_graph(ABSTRACTS, cid_model, "cid", licence="CC-BY-4.0", source="mined:t:cid",
                                          pipeline=pipeline)
    induces = {(e.source_id, e.target_id): e for e in edges if e.kind == "induces"}
    assert set(induces) == {("Compound::mined:zorbatol", "Disease::mined:hepatitis")}
    edge = induces["Compound::mined:zorbatol", "Disease::mined:hepatitis"]
    assert edge.attributes["documents"] == 2 and edge.attributes["relation"] == "cid"
    assert edge.source == "mined:t:cid" and edge.licence == "CC-BY-4.0" and 0.5 <= edge.weight <= 1
    assert {e["pmid"] for e in edge.evidence} == {"a1", "a2"}
    assert {e["sentence"] for e in edge.evidence} == {"Zorbatol induced hepatitis in three adults.",
                                                      "We report hepatitis induced by zorbatol."}
    assert all(0.5 <= e["score"] <= 1 for e in edge.evidence)
    # a3's "compared with ... in anemia" was a candidate but was rejected
    assert counts["documents"] == 4 and counts["candidates"] > counts["accepted"] == 2
    assert {n.id for n in nodes} == {"Compound::mined:zorbatol", "Disease::mined:hepatitis"}
    links = {(e.source_id, e.target_id) for e in edges if e.kind == "maps_to"}
    assert links == {("Disease::mined:hepatitis", "ICD10::K75.9")}


def test_mined_interactions_reach_the_interaction_check(ddi_model, pipeline, tmp_path) -> None:
    out = tmp_path / "ddi.jsonl"
    counts = relate(_write_abstracts(tmp_path), ddi_model, out, kind="ddi", licence="CC-BY-4.0",
                    pipeline=pipeline)
    assert counts["edges"] == 1 and counts["source"] == "mined:abstracts-set:ddi"
    nodes, edges, meta = read_jsonl(out)
    assert meta["relation"] == "ddi" and meta["builder"] == "carelm.kg.relate"
    graph = KnowledgeGraph()
    graph.extend(nodes, edges)
    (edge,) = graph.edges("interacts")
    assert (edge.source_id, edge.target_id) == ("Compound::mined:melvarin", "Compound::mined:quindex")
    assert edge.attributes["type"] == "mechanism" and edge.attributes["types"] == {"mechanism": 2}
    report = interactions(graph, ["quindex", "melvarin", "zorbatol"])
    (pair,) = report.pairs
    assert (pair["a"], pair["b"], pair["type"]) == ("quindex", "melvarin", "mechanism")
    sentences = {e["sentence"] for e in pair["evidence"][0]["evidence"]}
    assert sentences == {"Quindex increases melvarin levels.", "Quindex increases melvarin levels sharply."}


def _write_abstracts(folder: Path) -> Path:
    path = folder / "abstracts-set.jsonl"
    path.write_text("".join(json.dumps({"_id": a.id, "title": a.title, "text": a.text}) + "\n" for a in ABSTRACTS))
    return path


def test_a_model_for_other_labels_is_refused(cid_model, pipeline) -> None:
    with pytest.raises(ConfigError, match="does not classify ddi relations"):
        relation_graph(ABSTRACTS, cid_model, "ddi", licence="x", source="s", pipeline=pipeline)
    with pytest.raises(ConfigError, match="unknown relation"):
        relation_graph(ABSTRACTS, cid_model, "causes", licence="x", source="s", pipeline=pipeline)
    with pytest.raises(ConfigError, match="min_score"):
        relation_graph(ABSTRACTS, cid_model, "cid", licence="x", source="s", min_score=0, pipeline=pipeline)


def test_cli_writes_examples_and_relates(tmp_path, cid_model) -> None:
    corpus = tmp_path / "Train"
    corpus.mkdir()
    (corpus / "d1.xml").write_text(_ddi_document(), encoding="utf-8")
    out = tmp_path / "ddi-examples.jsonl"
    result = CliRunner().invoke(app, ["kg", "examples", "ddi", str(corpus), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["label"] for r in rows] == ["mechanism", "int", "none", "effect"]
    assert rows[0]["group"] == "DDI-Test.d1" and "DRUG1" in rows[0]["text"] and "wrote 4 example(s)" in result.output
    bad = CliRunner().invoke(app, ["kg", "examples", "xyz", str(corpus), "--out", str(out)])
    assert bad.exit_code != 0 and "unknown relation" in bad.output

    # the command runs the default extraction stages, whose terminology knows real drug and disease names
    abstracts = tmp_path / "real-names.jsonl"
    texts = ["Isoniazid induced hepatitis in three adults.", "We report hepatitis induced by isoniazid.",
             "Isoniazid was studied in anemia.", "Metformin induced lactic acidosis."]
    abstracts.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    graph_file = tmp_path / "cid.jsonl.gz"
    result = CliRunner().invoke(app, ["kg", "relate", str(cid_model), str(abstracts), "--out", str(graph_file),
                                      "--licence", "CC-BY-4.0", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "read 3 abstract(s)" in result.output and "3 candidate pair(s)" in result.output
    _, edges, _ = read_jsonl(graph_file)
    induces = [e for e in edges if e.kind == "induces"]
    # which pairs this tiny model accepts is not the point here (see the tests above); every edge carries its
    # sentences, and the fourth abstract was never read
    assert induces and all(e.source_id == "Compound::mined:isoniazid" for e in induces)
    assert all(e.evidence and {x["sentence"] for x in e.evidence} <= set(texts[:3]) for e in induces)
    same_as = [e for e in edges if e.kind == "same_as"]
    assert [e.source_id for e in same_as] == ["Compound::mined:isoniazid"]  # joins the shipped graph's compound
    assert same_as[0].target_id.startswith("Compound::DB")
