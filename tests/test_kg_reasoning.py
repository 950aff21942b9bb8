"""Differential diagnosis, treatments and interactions over a small hand-built graph; CLI and HTTP API."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from carelm.core.errors import NotFoundError
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.kg.graphfile import write_jsonl
from carelm.kg.reasoning import (
    differential,
    findings_from_text,
    interactions,
    match_findings,
    posterior,
    treatments,
)

SYMPTOMS = {
    "fever": ("Fever", ()), "cough": ("Cough", ()), "myalgia": ("Myalgia", ("muscle aches",)),
    "headache": ("Headache", ()), "rhinorrhea": ("Rhinorrhea", ("runny nose",)), "throat": ("Sore throat", ()),
    "dyspnea": ("Dyspnea", ("shortness of breath",)), "chestpain": ("Chest pain", ()), "rash": ("Rash", ()),
}
DISEASES = {  # id: (name, icd10 attribute, {symptom: weight})
    "flu": ("Influenza", None, {"fever": 0.9, "cough": 0.8, "myalgia": 0.6, "headache": None}),
    "cold": ("Common cold", "J00", {"cough": 0.7, "rhinorrhea": 0.9, "throat": 0.6}),
    "pna": ("Pneumonia", None, {"fever": 0.8, "cough": 0.85, "dyspnea": 0.7, "chestpain": 0.4}),
    "zarn": ("Zarnovian fever", None, {"fever": 0.5, "rash": 0.95}),
}
COMPOUNDS = ["Oseltamivir", "Zanamivir", "Paracetamol", "Amoxicillin", "Penicillin V", "Cephalexin",
             "Azithromycin", "Warfarin", "Ibuprofen", "Lisinopril", "Ribavirin", "Colchicine"]
TREATS = [("Oseltamivir", "flu", "treats"), ("Zanamivir", "flu", "treats"), ("Paracetamol", "flu", "palliates"),
          ("Amoxicillin", "pna", "treats"), ("Penicillin V", "pna", "treats"), ("Cephalexin", "pna", "treats"),
          ("Azithromycin", "pna", "treats"), ("Lisinopril", "htn", "treats"), ("Ribavirin", "paraflu", "treats"),
          ("Colchicine", "gout", "treats")]
INTERACTS = [("Warfarin", "Ibuprofen", "effect"), ("Azithromycin", "Warfarin", "mechanism")]


def _edge(source: str, target: str, kind: str, weight: float | None = None, **attributes) -> Edge:
    return Edge(source, target, kind, source="test-kb", licence="CC0-1.0", weight=weight,
                evidence=({"pmid": "0000001"},), attributes=attributes)


def build_graph() -> KnowledgeGraph:
    graph = KnowledgeGraph()
    for key, (name, synonyms) in SYMPTOMS.items():
        graph.add_node(Node(f"Symptom::{key}", "Symptom", name, synonyms, source="test-kb"))
    graph.add_node(Node("RiskFactor::travel", "RiskFactor", "Recent travel", source="test-kb"))
    for key, (name, icd10, _) in DISEASES.items():
        graph.add_node(Node(f"Disease::{key}", "Disease", name, attributes={"icd10": icd10} if icd10 else {}))
    graph.add_node(Node("Disease::htn", "Disease", "Hypertension"))
    graph.add_node(Node("Disease::paraflu", "Disease", "Parainfluenza"))
    graph.add_node(Node("Disease::gout", "Disease", "Gout"))
    graph.add_node(Node("Disease::other-kb:gout", "Disease", "Gouty arthritis"))
    for code in ("J11", "J18"):
        graph.add_node(Node(f"ICD10::{code}", "ICD10", code))
    for name in COMPOUNDS:
        graph.add_node(Node(f"Compound::{name.lower().replace(' ', '-')}", "Compound", name))
    for key, (_, _, symptoms) in DISEASES.items():
        for symptom, weight in symptoms.items():
            graph.add_edge(_edge(f"Disease::{key}", f"Symptom::{symptom}", "presents", weight))
    graph.add_edge(_edge("RiskFactor::travel", "Disease::zarn", "risk_factor", 0.7))
    graph.add_edge(_edge("Disease::flu", "ICD10::J11", "maps_to"))
    graph.add_edge(_edge("Disease::pna", "ICD10::J18", "maps_to"))
    graph.add_edge(_edge("Disease::paraflu", "Disease::flu", "resembles"))
    graph.add_edge(_edge("Disease::gout", "Disease::other-kb:gout", "same_as"))
    compound = {name: f"Compound::{name.lower().replace(' ', '-')}" for name in COMPOUNDS}
    for name, disease, kind in TREATS:
        graph.add_edge(_edge(compound[name], f"Disease::{disease}", kind))
    graph.add_edge(_edge(compound["Cephalexin"], compound["Amoxicillin"], "resembles"))
    for a, b, kind in INTERACTS:
        graph.add_edge(_edge(compound[a], compound[b], "interacts", type=kind))
    return graph


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    return build_graph()


def names(suggestions) -> list[str]:
    return [s.condition for s in suggestions]


# --- differential ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("findings", "absent", "expected_order"),
    [
        (["fever", "cough", "myalgia"], [], ["Influenza", "Pneumonia", "Common cold", "Zarnovian fever"]),
        (["fever", "cough", "shortness of breath"], [], ["Pneumonia", "Influenza"]),
        (["runny nose", "sore throat", "cough"], [], ["Common cold"]),
        (["rash", "recent travel"], [], ["Zarnovian fever"]),
        (["fever", "cough"], [], ["Influenza", "Pneumonia"]),
        (["fever", "cough"], ["muscle aches"], ["Pneumonia", "Influenza"]),  # a denial flips the order
    ],
)
def test_ranking_order(graph, findings, absent, expected_order):
    ranked = differential(graph, findings, absent)
    assert names(ranked)[:len(expected_order)] == expected_order
    assert all(a.score >= b.score for a, b in zip(ranked, ranked[1:], strict=False))


def test_only_diseases_explaining_a_finding_are_suggested_and_scores_are_a_posterior(graph):
    ranked = differential(graph, ["rash"])
    assert names(ranked) == ["Zarnovian fever"]
    assert sum(posterior(graph, {"rash": ["Symptom::rash"]}, {}).values()) == pytest.approx(1.0)
    assert differential(graph, ["unknown thing"]) == []
    assert len(differential(graph, ["fever", "cough"], top_k=1)) == 1


def test_absent_finding_lowers_a_disease_and_is_shown_against_it(graph):
    before = {s.condition: s.score for s in differential(graph, ["fever", "cough"])}
    after = {s.condition: s for s in differential(graph, ["fever", "cough"], absent=["chest pain"])}
    assert after["Pneumonia"].score < before["Pneumonia"]
    assert [a["finding"] for a in after["Pneumonia"].against] == ["chest pain"]
    assert after["Influenza"].against == []


def test_suggestion_explains_itself(graph):
    [flu, *_] = differential(graph, ["Fevers"])
    assert (flu.condition, flu.node_id, flu.icd10) == ("Influenza", "Disease::flu", "J11")
    assert flu.supporting[0] | {"evidence": None} == {
        "finding": "Fevers", "node_id": "Symptom::fever", "name": "Fever", "likelihood": 0.9, "source": "test-kb",
        "licence": "CC0-1.0", "evidence": None}
    assert flu.supporting[0]["evidence"] == [{"pmid": "0000001"}]
    assert flu.paths == [[{"from": "Disease::flu", "edge": "presents", "to": "Symptom::fever", "source": "test-kb"}]]
    # expected findings not reported, most likely first; a presents edge without weight counts as 0.8
    assert [(m["finding"], m["likelihood"]) for m in flu.missing] == [("Cough", 0.8), ("Headache", 0.8),
                                                                      ("Myalgia", 0.6)]
    [zarn] = differential(graph, ["recent travel"])
    assert zarn.paths[0][0]["edge"] == "risk_factor"


def test_a_weight_of_one_is_an_assertion_not_certainty():
    graph = KnowledgeGraph()
    graph.extend([Node("Disease::a", "Disease", "Alpha"), Node("Disease::b", "Disease", "Beta"),
                  Node("Symptom::x", "Symptom", "Ex"), Node("Symptom::y", "Symptom", "Why")],
                 [_edge("Disease::a", "Symptom::x", "presents", 1.0),
                  _edge("Disease::a", "Symptom::y", "presents", 1.0),
                  _edge("Disease::b", "Symptom::x", "presents", 0.5)])
    [beta, alpha] = differential(graph, ["ex"], absent=["why"])
    # Alpha: 0.8 (not 1.0) for Ex, 1 - 0.8 for the denied Why; Beta: 0.5 for Ex, 1 - leak for Why
    assert (alpha.condition, alpha.supporting[0]["likelihood"], beta.supporting[0]["likelihood"]) == ("Alpha", 0.8, 0.5)
    assert alpha.score == pytest.approx(0.16 / (0.16 + 0.5 * 0.98), abs=1e-4)


def test_candidates_mode_keeps_the_given_order_and_reports_unknown_names(graph):
    candidates = ["Common cold", "Zarnovian fever", "Nonexistent disease", "Hypertension", "influenza", "J18"]
    ranked = differential(graph, ["fever", "cough"], candidates=candidates, top_k=1)
    assert [s.candidate for s in ranked] == candidates
    assert names(ranked) == ["Common cold", "Zarnovian fever", "Nonexistent disease", "Hypertension", "Influenza",
                             "Pneumonia"]
    unknown, htn = ranked[2], ranked[3]
    assert unknown.score == 0 and unknown.node_id is None and unknown.error.startswith("unmatched")
    assert htn.score == 0 and "no findings" in htn.note
    assert ranked[0].icd10 == "J00" and ranked[5].icd10 == "J18"
    assert ranked[4].score > ranked[5].score > ranked[0].score > 0


def test_finding_matching_uses_synonyms_and_singular_forms(graph):
    matched, unmatched = match_findings(graph, ["Muscle aches", "rashes", "fever", "Fever", "xyzzy"])
    assert matched == {"Muscle aches": ["Symptom::myalgia"], "rashes": ["Symptom::rash"], "fever": ["Symptom::fever"]}
    assert unmatched == ["xyzzy"]


# --- treatments and interactions -----------------------------------------------------------------------
def test_treatments_direct_first_then_palliative(graph):
    report = treatments(graph, "influenza")
    assert [(o.compound, o.relation) for o in report.options] == [
        ("Oseltamivir", "treats"), ("Zanamivir", "treats"), ("Paracetamol", "palliates")]
    similar = treatments(graph, "Influenza", include_similar=True)
    [ribavirin] = [o for o in similar.options if o.indirect]
    assert (ribavirin.compound, ribavirin.via) == ("Ribavirin", "Parainfluenza")
    assert [h["edge"] for h in ribavirin.paths[0]] == ["treats", "resembles"]
    other_name = treatments(graph, "gouty arthritis")
    assert other_name.node_ids == ["Disease::other-kb:gout", "Disease::gout"]
    [colchicine] = other_name.options
    assert not colchicine.indirect and [h["edge"] for h in colchicine.paths[0]] == ["treats", "same_as"]


def test_allergies_exclude_by_name_and_by_similar_compound(graph):
    report = treatments(graph, "Pneumonia", allergies=["amoxicillin", "penicillin", "latex"])
    assert [o.compound for o in report.options] == ["Azithromycin"]
    reasons = {e.compound: e.reason for e in report.excluded}
    assert reasons == {"Amoxicillin": "allergy: amoxicillin", "Penicillin V": "allergy: penicillin",
                       "Cephalexin": "cross-reactivity: similar compound to Amoxicillin (allergy: amoxicillin)"}
    [cephalexin] = [e for e in report.excluded if e.compound == "Cephalexin"]
    assert [[h["edge"] for h in p] for p in cephalexin.paths] == [["treats"], ["resembles"]]
    assert report.unmatched == {"allergies": ["penicillin", "latex"], "medications": []}


def test_current_medications_flag_interactions(graph):
    report = treatments(graph, "Pneumonia", medications=["warfarin", "aspirin"])
    flagged = {o.compound: o.interactions for o in report.options if o.interactions}
    assert list(flagged) == ["Azithromycin"]
    assert flagged["Azithromycin"][0]["with"] == "warfarin" and flagged["Azithromycin"][0]["type"] == "mechanism"
    assert report.unmatched["medications"] == ["aspirin"]


def test_unknown_condition_is_not_found(graph):
    with pytest.raises(NotFoundError, match="no Disease node"):
        treatments(graph, "Dragon pox")


def test_interaction_pairs_among_medications(graph):
    report = interactions(graph, ["Warfarin", "ibuprofen", "azithromycin", "unobtainium", "Lisinopril"])
    assert [(p["a"], p["b"], p["type"]) for p in report.pairs] == [
        ("Warfarin", "ibuprofen", "effect"), ("Warfarin", "azithromycin", "mechanism")]
    second = report.pairs[1]
    assert (second["a_id"], second["b_id"]) == ("Compound::warfarin", "Compound::azithromycin")
    assert report.unmatched == ["unobtainium"]
    assert interactions(graph, ["Lisinopril", "Oseltamivir"]).pairs == []


# --- every item carries its evidence ---------------------------------------------------------------------
def all_returned_items(graph):
    """(kind, item dict) for every item the reasoning functions return over a spread of inputs."""
    cases = [["fever"], ["fever", "cough", "myalgia"], ["rash", "recent travel"], ["runny nose"], ["chest pain"]]
    for findings in cases:
        for s in differential(graph, findings, absent=["headache"]):
            yield "suggestion", s.to_dict()
        for s in differential(graph, findings, candidates=["Influenza", "Hypertension", "Nope", "Common cold"]):
            yield "candidate", s.to_dict()
    for condition, allergies in [("Influenza", []), ("Pneumonia", ["amoxicillin", "penicillin"])]:
        report = treatments(graph, condition, allergies, ["warfarin"], include_similar=True)
        for option in report.options:
            yield "option", option.to_dict()
            for flag in option.interactions:
                yield "interaction flag", flag
        for excluded in report.excluded:
            yield "excluded", excluded.to_dict()
    for pair in interactions(graph, ["warfarin", "ibuprofen", "azithromycin"]).pairs:
        yield "pair", pair


def test_every_returned_item_carries_evidence(graph):
    seen = set()
    for kind, item in all_returned_items(graph):
        seen.add(kind)
        if kind in ("suggestion", "candidate") and (item["supporting"] or kind == "suggestion"):
            assert item["supporting"] and item["paths"], item
            assert all(entry["source"] for entry in item["supporting"]), item
        elif kind == "candidate":  # a candidate nothing supports says why instead
            assert item.get("note") or item.get("error"), item
        else:
            assert item["evidence"] and all(e["source"] for e in item["evidence"]), (kind, item)
            if kind != "interaction flag":
                assert item["paths"], (kind, item)
    assert seen == {"suggestion", "candidate", "option", "interaction flag", "excluded", "pair"}


# --- findings from a note ---------------------------------------------------------------------------------
def test_findings_from_text_splits_asserted_and_denied():
    note = ("Three days of fevers and a dry cough. Denies chest pain. No rash. Mother has diabetes. "
            "If headache develops, return. History of asthma.")
    findings, absent = findings_from_text(note)
    assert {"fever", "cough", "Asthma"} <= set(findings)  # a past problem is an antecedent
    assert {"chest pain", "rash"} <= set(absent)
    assert not {"headache", "diabetes mellitus"} & set(findings + absent)


def test_differential_from_a_note(graph):
    findings, absent = findings_from_text("Fever, cough and shortness of breath since Monday. No chest pain.")
    ranked = differential(graph, findings, absent)
    assert ranked[0].condition == "Pneumonia"
    assert [a["finding"] for a in ranked[0].against] == ["chest pain"]


# --- command line -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph_file(graph, tmp_path_factory):
    path = tmp_path_factory.mktemp("kg") / "graph.jsonl.gz"
    write_jsonl(graph, path)
    return str(path)


def run_cli(*args: str):
    """Run the reasoning commands as registered on a command line of their own."""
    import typer

    from carelm.cli.diagnose import register

    app = typer.Typer(pretty_exceptions_enable=False)
    register(app)
    return CliRunner().invoke(app, list(args))


def test_cli_diagnose_table_and_json(graph_file):
    result = run_cli("diagnose", "--finding", "fever", "--finding", "cough", "--finding", "myalgia",
                     "--graph", graph_file)
    assert result.exit_code == 0, result.output
    assert result.output.index("Influenza") < result.output.index("Pneumonia")
    result = run_cli("diagnose", "--finding", "fever", "--absent", "myalgia", "--candidate", "Pneumonia",
                     "--candidate", "Dragon pox", "--graph", graph_file, "--json")
    out = json.loads(result.output)
    assert [s["condition"] for s in out["differential"]] == ["Pneumonia", "Dragon pox"]
    assert out["findings"] == {"present": ["fever"], "absent": ["myalgia"], "unmatched": []}


def test_cli_diagnose_jsonl(graph_file, tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join([
        json.dumps({"id": "a", "findings": ["fever", "cough", "myalgia"]}),
        json.dumps({"id": "b", "text": "Rash after recent travel; no cough.", "candidates": ["Common cold",
                                                                                           "Zarnovian fever"]}),
        json.dumps({"id": "c", "findings": "fever"}),
        "{broken",
        json.dumps({"id": "d", "findings": ["fever"], "colour": "red"}),
        json.dumps({"id": "e"}),
    ]) + "\n", encoding="utf-8")
    result = run_cli("diagnose", "--in-jsonl", str(source), "--out-jsonl", str(target), "--graph", graph_file)
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [line.get("id") for line in lines] == ["a", "b", "c", None, "d", "e"]
    assert lines[0]["differential"][0]["condition"] == "Influenza"
    assert set(lines[0]["differential"][0]) >= {"condition", "icd10", "score", "supporting", "missing", "paths"}
    assert [s["condition"] for s in lines[1]["differential"]] == ["Common cold", "Zarnovian fever"]
    assert lines[1]["findings"]["absent"] == ["cough"]
    assert all(set(line) == {"id", "error"} for line in lines[2:])
    assert "findings" in lines[2]["error"] and "not valid JSON" in lines[3]["error"]
    assert "colour" in lines[4]["error"] and "give 'text'" in lines[5]["error"]


def test_cli_treatments_and_interactions(graph_file):
    result = run_cli("treatments", "Pneumonia", "--allergy", "amoxicillin", "--medication", "warfarin",
                     "--graph", graph_file)
    assert result.exit_code == 0, result.output
    assert "Azithromycin" in result.output and "interacts with warfarin" in result.output
    assert "excluded Amoxicillin: allergy: amoxicillin" in result.output
    assert "excluded Cephalexin: cross-reactivity" in result.output
    result = run_cli("interactions", "warfarin", "ibuprofen", "unobtainium", "--graph", graph_file, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(p["a"], p["b"]) for p in report["pairs"]] == [("warfarin", "ibuprofen")]
    assert report["unmatched"] == ["unobtainium"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["treatments", "Dragon pox"], "no Disease node"),
        (["interactions", "warfarin"], "at least two"),
        (["diagnose"], "give 'text'"),
        (["diagnose", "--finding", "fever", "--in-jsonl", "x.jsonl"], "together"),
    ],
)
def test_cli_errors_are_one_line(graph_file, args, message):
    result = run_cli(*args, "--graph", graph_file)
    assert result.exit_code == 2 and message in result.output, result.output


def test_cli_without_a_default_graph_says_how_to_give_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "carelm.kg.build", None)  # as if no default graph were built
    result = run_cli("diagnose", "--finding", "fever")
    assert result.exit_code == 2 and "--graph PATH" in result.output


# --- HTTP API ---------------------------------------------------------------------------------------------
@pytest.fixture
def kg_api(settings, graph):
    """The app with the reasoning routes on this graph, served by a real uvicorn server."""

    from carelm.api.app import create_app
    from tests.server import serving

    app = create_app(settings)
    app.state.knowledge_graph = graph
    with serving(app, timeout=60) as client:
        yield client


def test_api_diagnose(kg_api):
    response = kg_api.post("/v1/diagnose", json={"findings": ["fever", "cough", "myalgia"], "top_k": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["condition"] for s in body["differential"]] == ["Influenza", "Pneumonia"]
    assert body["differential"][0]["paths"][0][0]["edge"] == "presents"
    from_text = kg_api.post("/v1/diagnose", json={"text": "Fever and cough. Denies shortness of breath.",
                                                  "candidates": ["Pneumonia", "Influenza", "Dragon pox"]}).json()
    assert [s["candidate"] for s in from_text["differential"]] == ["Pneumonia", "Influenza", "Dragon pox"]
    assert from_text["findings"]["absent"] == ["shortness of breath"]
    assert from_text["differential"][2]["error"].startswith("unmatched")


def test_api_treatments_and_interactions(kg_api):
    body = kg_api.post("/v1/treatments", json={"condition": "pneumonia", "allergies": ["penicillin"],
                                               "medications": ["warfarin"]}).json()
    assert "Penicillin V" not in [o["compound"] for o in body["options"]]
    assert body["excluded"] == [{**body["excluded"][0], "compound": "Penicillin V", "reason": "allergy: penicillin"}]
    assert [o["interactions"][0]["with"] for o in body["options"] if o["interactions"]] == ["warfarin"]
    pairs = kg_api.post("/v1/interactions", json={"medications": ["ibuprofen", "warfarin"]}).json()["pairs"]
    assert [(p["a"], p["b"], p["type"]) for p in pairs] == [("ibuprofen", "warfarin", "effect")]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/diagnose", {}, 422, "invalid_input"),
        ("/v1/diagnose", {"findings": ["fever"], "top_k": 0}, 422, "invalid_input"),
        ("/v1/diagnose", {"findings": ["fever"], "colour": "red"}, 422, "invalid_input"),
        ("/v1/treatments", {"condition": "Dragon pox"}, 404, "not_found"),
        ("/v1/treatments", {}, 422, "invalid_input"),
        ("/v1/interactions", {"medications": ["warfarin"]}, 422, "invalid_input"),
    ],
)
def test_api_errors_have_the_common_body(kg_api, path, body, status, code):
    from tests.test_api import assert_error_body

    assert_error_body(kg_api.post(path, json=body), status, code)


def test_cli_and_api_reason_over_the_store_graph_once_it_holds_one(graph_file, tmp_path, monkeypatch):
    """A graph loaded with `carelm kg load` is the one `carelm interactions` and `/v1/interactions` use: the
    Warfarin–Ibuprofen interaction exists only in it, not in the shipped default graph."""
    from carelm.api.app import create_app
    from carelm.cli.main import app as main_app
    from carelm.core.settings import get_settings
    from tests.conftest import TEST_KEY
    from tests.server import serving

    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'carelm.db'}"

    def pairs() -> list[tuple[str, str, str]]:
        result = run_cli("interactions", "Warfarin", "Ibuprofen", "--json", "--db", db)
        assert result.exit_code == 0, result.output
        return [(p["a"], p["b"], p["type"]) for p in json.loads(result.output)["pairs"]]

    assert pairs() == []  # no database yet: the default graph, which has no interaction edges
    assert not (tmp_path / "carelm.db").exists()  # and asking did not create one
    loaded = CliRunner().invoke(main_app, ["kg", "load", "jsonl", graph_file, "--db", db])
    assert loaded.exit_code == 0, loaded.output
    assert pairs() == [("Warfarin", "Ibuprofen", "effect")]

    with serving(create_app(get_settings(profile="test", database_url=db, secret_key=TEST_KEY)), timeout=60) as client:
        body = client.post("/v1/interactions", json={"medications": ["ibuprofen", "warfarin"]}).json()
    assert [(p["a"], p["b"], p["type"]) for p in body["pairs"]] == [("ibuprofen", "warfarin", "effect")]
    assert body["pairs"][0]["evidence"]
