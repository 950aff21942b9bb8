"""Knowledge-graph loaders on tiny hand-written files in the real layouts, the interchange format, name links
and the shipped default graph."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from carelm.core.errors import InputError
from carelm.kg import loaders
from carelm.kg.build import DEFAULT_GRAPH, build_default_graph, default_graph
from carelm.kg.ddxplus import short_finding_name
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.kg.graphfile import assemble, read_jsonl, write_jsonl
from carelm.kg.sources import REDISTRIBUTABLE

NODES = [
    ("Disease::DOID:9001", "testitis", "Disease"),
    ("Disease::DOID:9002", "examplosis", "Disease"),
    ("Symptom::D900001", "Pain, Testing", "Symptom"),
    ("Compound::DB90001", "Fakeprofen", "Compound"),
    ("Compound::DB90002", "Mockacillin", "Compound"),
    ("Anatomy::UBERON:9000001", "test gland", "Anatomy"),
    ("Side Effect::C9000001", "Test rash", "Side Effect"),
    ("Gene::9001", "TST1", "Gene"),
]
EDGE_FILES = {
    "Compound_Treats_Disease.tsv": ("Compound", "Disease", [("DB90001", "DOID:9001")]),
    "Compound_Palliates_Disease.tsv": ("Compound", "Disease", [("DB90002", "DOID:9002")]),
    "Disease_Resembles_Disease.tsv": ("Disease", "Disease", [("DOID:9001", "DOID:9002")]),
    "Disease_Localizes_Anatomy.tsv": ("Disease", "Anatomy", [("DOID:9001", "UBERON:9000001")]),
    "Compound_Resembles_Compund.tsv": ("Compound", "Compound", [("DB90001", "DB90002")]),
}
SIDER_ROWS = [("DB90001", "Fakeprofen", "C9000001", "Test rash")]


def write_hetionet(folder: Path) -> Path:
    (folder / "edges").mkdir(parents=True)
    lines = ["id\tname\tkind"] + ["\t".join(row) for row in NODES]
    (folder / "hetionet-v1.0-nodes.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, (start, end, rows) in EDGE_FILES.items():
        body = [f":START_ID({start})\t:END_ID({end})"] + ["\t".join(r) for r in rows]
        (folder / "edges" / name).write_text("\n".join(body) + "\n", encoding="utf-8")
    sider = ["drugbank_id\tdrugbank_name\tumls_cui_from_meddra\tside_effect_name"] + ["\t".join(r) for r in SIDER_ROWS]
    (folder / "edges" / "Compound_Causes_SideEffect.tsv").write_text("\n".join(sider) + "\n", encoding="utf-8")
    return folder


CONDITIONS = {
    "Testitis": {"condition_name": "Testitis", "cond-name-eng": "Testitis", "icd10-id": "j45, J93",
                 "symptoms": {"E_91": {}, "E_9001": {}}, "antecedents": {"E_9002": {}}, "severity": 3},
    "Exemplar fever (early)": {"condition_name": "Exemplar fever (early)", "cond-name-eng": "Exemplar fever (early)",
                               "icd10-id": "R50.9", "symptoms": {"E_91": {}}, "antecedents": {}, "severity": 4},
}
EVIDENCES = {
    "E_91": {"name": "E_91", "code_question": "E_91", "question_en": "Is your temperature high?",
             "is_antecedent": False, "data_type": "B", "default_value": 0, "value_meaning": {}},
    "E_9001": {"name": "E_9001", "code_question": "E_9001", "question_en": "Do you have a sore elbow?",
               "is_antecedent": False, "data_type": "C", "default_value": "V_1",
               "value_meaning": {"V_1": {"en": "left", "fr": "gauche"}, "V_2": {"en": "right", "fr": "droit"}}},
    "E_9002": {"name": "E_9002", "code_question": "E_9002", "question_en": "Do you juggle torches?",
               "is_antecedent": True, "data_type": "B", "default_value": 0, "value_meaning": {}},
}


def write_ddxplus(folder: Path, conditions=None, evidences=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "release_conditions.json").write_text(json.dumps(conditions or CONDITIONS, indent=2), encoding="utf-8")
    (folder / "release_evidences.json").write_text(json.dumps(evidences or EVIDENCES, indent=2), encoding="utf-8")
    return folder


# --- Hetionet ----------------------------------------------------------------------------------
def test_hetionet_keeps_medical_kinds_and_edges_without_sider(tmp_path):
    nodes, edges = loaders.hetionet(write_hetionet(tmp_path / "het"))
    assert {n.id for n in nodes} == {row[0] for row in NODES if row[2] not in ("Gene", "Side Effect")}
    assert {(e.source_id, e.kind, e.target_id) for e in edges} == {
        ("Compound::DB90001", "treats", "Disease::DOID:9001"),
        ("Compound::DB90002", "palliates", "Disease::DOID:9002"),
        ("Disease::DOID:9001", "resembles", "Disease::DOID:9002"),
        ("Disease::DOID:9001", "localizes", "Anatomy::UBERON:9000001"),
        ("Compound::DB90001", "resembles", "Compound::DB90002"),
    }
    assert {(x.source, x.licence) for x in [*nodes, *edges]} == {("Hetionet v1.0", "CC0-1.0")}
    assert all(e.weight == 1.0 and e.evidence[0]["metaedge"] for e in edges)
    symptom = next(n for n in nodes if n.kind == "Symptom")
    assert symptom.synonyms == ("Testing Pain",)  # MeSH inverted heading in natural order


def test_hetionet_noncommercial_adds_sider_side_effects(tmp_path):
    nodes, edges = loaders.hetionet(write_hetionet(tmp_path / "het"), include_noncommercial=True)
    side_effect = next(n for n in nodes if n.kind == "SideEffect")
    assert side_effect.id == "SideEffect::C9000001" and side_effect.licence == "CC-BY-NC-SA-4.0"
    [causes] = [e for e in edges if e.kind == "causes"]
    assert (causes.source_id, causes.target_id) == ("Compound::DB90001", "SideEffect::C9000001")
    assert causes.licence == "CC-BY-NC-SA-4.0" and causes.source.startswith("SIDER")


@pytest.mark.parametrize("file_name, content, location", [
    ("hetionet-v1.0-nodes.tsv", "identifier\tname\tkind\n", "hetionet-v1.0-nodes.tsv:1"),
    ("hetionet-v1.0-nodes.tsv", "id\tname\tkind\nDisease::DOID:1\tonly two\n", "hetionet-v1.0-nodes.tsv:2"),
    ("edges/Compound_Treats_Disease.tsv", "start\tend\n", "Compound_Treats_Disease.tsv:1"),
    ("edges/Compound_Treats_Disease.tsv", ":START_ID(Compound)\t:END_ID(Disease)\nDB90001\tDOID:404\n",
     "Compound_Treats_Disease.tsv:2"),
    ("edges/Disease_Resembles_Disease.tsv", ":START_ID(Disease)\t:END_ID(Disease)\nDOID:9001\n",
     "Disease_Resembles_Disease.tsv:2"),
])
def test_hetionet_bad_input_names_file_and_line(tmp_path, file_name, content, location):
    folder = write_hetionet(tmp_path / "het")
    (folder / file_name).write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        loaders.hetionet(folder)
    assert raised.value.location.endswith(location)


def test_hetionet_missing_edge_file(tmp_path):
    folder = write_hetionet(tmp_path / "het")
    (folder / "edges" / "Disease_Localizes_Anatomy.tsv").unlink()
    with pytest.raises(InputError, match="not found"):
        loaders.hetionet(folder)


# --- DDXPlus -----------------------------------------------------------------------------------
def test_ddxplus_conditions_findings_and_codes(tmp_path):
    nodes, edges = loaders.ddxplus(write_ddxplus(tmp_path / "ddx"))
    by_id = {n.id: n for n in nodes}
    disease = by_id["Disease::ddxplus:testitis"]
    assert disease.attributes["icd10"] == ["J45", "J93"] and disease.licence == "CC-BY-4.0"
    assert "DDXPlus (Fansi Tchango et al., 2022)" in disease.attributes["attribution"]
    assert by_id["Disease::ddxplus:exemplar-fever-early"].synonyms[0] == "Exemplar fever"
    fever = by_id["Symptom::ddxplus:E_91"]
    assert fever.name == "fever" and fever.attributes["question"] == "Is your temperature high?"  # curated name
    elbow = by_id["Symptom::ddxplus:E_9001"]
    assert elbow.name == "sore elbow" and elbow.attributes["values"] == {"V_1": "left", "V_2": "right"}
    assert by_id["RiskFactor::ddxplus:E_9002"].name == "juggle torches"
    facts = {(e.source_id, e.kind, e.target_id) for e in edges}
    assert ("Disease::ddxplus:testitis", "presents", "Symptom::ddxplus:E_9001") in facts
    assert ("Disease::ddxplus:testitis", "risk_factor", "RiskFactor::ddxplus:E_9002") in facts
    assert ("Disease::ddxplus:testitis", "maps_to", "ICD10::J45") in facts
    assert ("ICD10::J45", "is_a", "ICD10::J40-J4A") in facts and "ICD10::chapter-10" in by_id
    presents = [e for e in edges if e.kind == "presents"]
    assert all(e.weight == 1.0 and e.evidence == ({"source": "DDXPlus knowledge base"},) for e in presents)
    graph, dangling = assemble(nodes, edges)
    assert dangling == 0 and len(graph) == len(nodes)


def test_ddxplus_without_icd10_nodes(tmp_path):
    nodes, edges = loaders.ddxplus(write_ddxplus(tmp_path / "ddx"), with_icd10=False)
    assert not any(n.kind == "ICD10" for n in nodes) and not any(e.kind == "is_a" for e in edges)


@pytest.mark.parametrize("conditions, evidences, message, location", [
    ({"X": {"cond-name-eng": "X", "icd10-id": "J45", "symptoms": {"E_404": {}}, "antecedents": {}}}, None,
     "unknown evidence", "release_conditions.json:X"),
    ({"X": {"cond-name-eng": "X", "icd10-id": 45, "symptoms": {}, "antecedents": {}}}, None,
     "icd10-id", "release_conditions.json:X"),
    (None, {"E_1": {"question_en": None}}, "question_en", "release_evidences.json:E_1"),
    (None, {"E_1": "not an object"}, "object", "release_evidences.json:E_1"),
])
def test_ddxplus_bad_entries(tmp_path, conditions, evidences, message, location):
    folder = write_ddxplus(tmp_path / "ddx", conditions, evidences)
    with pytest.raises(InputError, match=message) as raised:
        loaders.ddxplus(folder)
    assert raised.value.location.endswith(location)


def test_ddxplus_invalid_json_names_line(tmp_path):
    folder = write_ddxplus(tmp_path / "ddx")
    (folder / "release_evidences.json").write_text('{\n  "E_1": {,\n}', encoding="utf-8")
    with pytest.raises(InputError) as raised:
        loaders.ddxplus(folder)
    assert raised.value.location.endswith("release_evidences.json:2")


@pytest.mark.parametrize("question, name", [
    ("Do you have a cough?", "cough"),
    ("Have you had chills or shivers?", "chills or shivers"),
    ("Do you feel nauseous (or sick)?", "nauseous"),
    ("Are you currently pregnant?", "pregnant"),
    ("Characterize your pain:", "characterize your pain"),
])
def test_short_finding_names(question, name):
    assert short_finding_name(question) == name


# --- ICD-10-CM ---------------------------------------------------------------------------------
def test_icd10cm_codes_with_their_ancestors():
    nodes, edges = loaders.icd10cm(["j45.909"])
    ids = [n.id for n in nodes]
    assert ids == ["ICD10::J45.909", "ICD10::J45.90", "ICD10::J45.9", "ICD10::J45", "ICD10::J40-J4A",
                   "ICD10::chapter-10"]
    assert [(e.source_id, e.target_id) for e in edges] == list(zip(ids, ids[1:], strict=False))
    levels = {n.id: (n.attributes["level"], n.attributes["billable"]) for n in nodes}
    assert levels["ICD10::J45.909"] == ("subcategory", True) and levels["ICD10::J40-J4A"] == ("block", False)
    assert all(e.kind == "is_a" and e.licence == "public domain (CDC ICD-10-CM)" for e in edges)


def test_icd10cm_one_category_block_has_no_self_loop():
    nodes, edges = loaders.icd10cm(["B20"])
    assert [n.id for n in nodes] == ["ICD10::B20", "ICD10::chapter-1"]
    assert [(e.source_id, e.target_id) for e in edges] == [("ICD10::B20", "ICD10::chapter-1")]


def test_icd10cm_unknown_code():
    with pytest.raises(InputError, match="not an ICD-10-CM code"):
        loaders.icd10cm(["Q99.999X"])


# --- interchange format ------------------------------------------------------------------------
def small_graph() -> KnowledgeGraph:
    graph = KnowledgeGraph()
    graph.extend(
        [Node("Disease::x:1", "Disease", "Testitis", ("test fever",), "unit", "CC0-1.0", {"severity": 2}),
         Node("Symptom::x:2", "Symptom", "Sore elbow", (), "unit", "CC0-1.0")],
        [Edge("Disease::x:1", "Symptom::x:2", "presents", "unit", "CC0-1.0", 0.5, ({"pmid": "1"},), {"note": "a"}),
         Edge("Disease::x:1", "Symptom::x:2", "cooccurs", "miner", "CC0-1.0", None)],
    )
    return graph


@pytest.mark.parametrize("name", ["graph.jsonl", "graph.jsonl.gz"])
def test_jsonl_round_trip(tmp_path, name):
    graph = small_graph()
    path = tmp_path / name
    assert write_jsonl(graph, path, meta={"built_by": "test"}) == 5
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    nodes, edges = loaders.jsonl(path)
    assert sorted(nodes, key=lambda n: n.id) == sorted(graph.nodes(), key=lambda n: n.id)
    assert nodes[0].attributes == {"severity": 2}
    assert sorted((e.kind, e.weight, e.evidence, e.attributes) for e in edges) == [
        ("cooccurs", None, (), {}), ("presents", 0.5, ({"pmid": "1"},), {"note": "a"})]
    assert read_jsonl(path)[2] == {"format": "carelm-kg", "version": 1, "built_by": "test"}


NODE = {"id": "Disease::x:1", "kind": "Disease", "name": "Testitis"}
EDGE = {"source_id": "Disease::x:1", "target_id": "Disease::x:1", "kind": "resembles", "source": "s", "licence": "l"}


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"node": NODE, "edge": EDGE}), "exactly one key"),
    (json.dumps({"nodes": NODE}), "exactly one key"),
    (json.dumps({"node": {**NODE, "colour": "red"}}), "unknown node field"),
    (json.dumps({"node": {**NODE, "id": "Symptom::x:1"}}), "must be 'Disease::"),
    (json.dumps({"node": {"id": "Disease::x:1", "kind": "Disease"}}), "lacks \\['name'\\]"),
    (json.dumps({"node": {**NODE, "synonyms": "one"}}), "wrong type"),
    (json.dumps({"edge": {**EDGE, "weight": "high"}}), "wrong type"),
    (json.dumps({"edge": {**EDGE, "evidence": ["a sentence"]}}), "list of objects"),
    (json.dumps({"edge": {k: v for k, v in EDGE.items() if k != "licence"}}), "lacks"),
    (json.dumps({"meta": {"late": True}}), "may only come first"),
])
def test_jsonl_bad_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"node": NODE}) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as raised:
        loaders.jsonl(path)
    assert raised.value.location == f"{path}:3"


def test_jsonl_unreadable_gzip(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"node": {}}\n')[:20])
    with pytest.raises(InputError, match="cannot read"):
        loaders.jsonl(path)


def test_assemble_merges_evidence_of_one_fact_and_counts_dangling_edges():
    nodes = list(small_graph().nodes())
    first = Edge("Disease::x:1", "Symptom::x:2", "cooccurs", "miner", "CC0-1.0", 2.0, ({"record_id": "a"},))
    second = Edge("Disease::x:1", "Symptom::x:2", "cooccurs", "miner", "CC0-1.0", 3.0, ({"record_id": "b"},))
    dangling = Edge("Disease::x:1", "Symptom::x:404", "cooccurs", "miner", "CC0-1.0")
    graph, left_out = assemble(nodes, [first, second, dangling])
    [edge] = graph.edges()
    assert left_out == 1 and edge.weight == 3.0 and edge.evidence == ({"record_id": "a"}, {"record_id": "b"})


# --- name links --------------------------------------------------------------------------------
def test_name_links_across_sources_only():
    nodes = [
        Node("Disease::a:1", "Disease", "Testitis", (), "A"),
        Node("Disease::b:1", "Disease", "testitis", (), "B"),
        Node("Disease::b:2", "Disease", "Testitis of the elbow", ("testitis",), "B"),
        Node("RiskFactor::a:3", "RiskFactor", "Elbow strain", (), "A"),
        Node("Symptom::a:4", "Symptom", "elbow strain", (), "A"),  # same source as the risk factor: no link
        Node("ICD10::T99", "ICD10", "Testitis", (), "ICD-10-CM", attributes={"level": "category"}),
        Node("ICD10::T90-T99", "ICD10", "Testitis", (), "ICD-10-CM", attributes={"level": "block"}),
    ]
    links = {(e.source_id, e.kind, e.target_id): e.weight for e in loaders.name_links(nodes)}
    assert links == {
        ("Disease::a:1", "same_as", "Disease::b:1"): 1.0,
        ("Disease::a:1", "same_as", "Disease::b:2"): 0.8,
        ("Disease::a:1", "maps_to", "ICD10::T99"): 1.0,
        ("Disease::b:1", "maps_to", "ICD10::T99"): 1.0,
        ("Disease::b:2", "maps_to", "ICD10::T99"): 0.8,
    }


# --- the default graph -------------------------------------------------------------------------
def test_default_graph_is_shipped_small_and_redistributable():
    assert DEFAULT_GRAPH.stat().st_size < 5_000_000
    graph = default_graph()
    assert graph is default_graph()  # cached
    stats = graph.stats()
    assert {"Disease", "Symptom", "Compound", "Anatomy", "ICD10", "RiskFactor"} <= set(stats["nodes_by_kind"])
    assert "SideEffect" not in stats["nodes_by_kind"] and "causes" not in stats["edges_by_kind"]
    assert {"treats", "presents", "risk_factor", "maps_to", "is_a", "same_as"} <= set(stats["edges_by_kind"])
    assert {item.licence for item in (*graph.nodes(), *graph.edges())} <= REDISTRIBUTABLE
    meta = read_jsonl(DEFAULT_GRAPH)[2]
    assert "DDXPlus (Fansi Tchango et al., 2022), CC-BY-4.0" in meta["attribution"]
    assert [n.id for n in graph.find("asthma", ["Disease"])]


def test_build_default_graph_leaves_sider_out(tmp_path):
    write_hetionet(tmp_path / "shared" / "hetionet")
    write_ddxplus(tmp_path / "shared" / "ddxplus_kb")
    graph = build_default_graph(tmp_path / "shared")
    assert "SideEffect::C9000001" not in graph and not list(graph.edges("causes"))
    assert "Compound::DB90001" in graph and "Disease::ddxplus:testitis" in graph
    assert "ICD10::J45" in graph and "ICD10::chapter-10" in graph
    out = tmp_path / "graph.jsonl.gz"
    write_jsonl(graph, out)
    assert loaders.jsonl(out)[0]


def test_shipped_knowledge_files_are_in_the_manifest():
    manifest = (DEFAULT_GRAPH.parents[1] / "MANIFEST.md").read_text(encoding="utf-8")
    for path in sorted(DEFAULT_GRAPH.parent.iterdir()):
        assert f"`kg/{path.name}`" in manifest, path.name
