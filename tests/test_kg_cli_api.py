"""``carelm kg load|stats|neighbours`` through Typer's runner, and ``/v1/kg`` through a real uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import typer
from typer.testing import CliRunner

from carelm.api.app import create_app
from carelm.cli import kg as kg_cli
from carelm.cli.main import app as main_app
from carelm.core.settings import Settings
from carelm.kg.build import default_graph
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.kg.graphfile import write_jsonl
from carelm.service import kg as kg_service
from carelm.service.context import Context
from tests.conftest import TEST_KEY
from tests.server import serving
from tests.test_kg_loaders import write_hetionet

runner = CliRunner()


def small_graph() -> KnowledgeGraph:
    graph = KnowledgeGraph()
    graph.extend(
        [Node("Disease::t:1", "Disease", "Testitis", ("test fever",), "Test KB", "CC0-1.0"),
         Node("Symptom::t:2", "Symptom", "Sore elbow", (), "Test KB", "CC0-1.0"),
         Node("Compound::t:3", "Compound", "Fakeprofen", (), "Test KB", "CC0-1.0")],
        [Edge("Disease::t:1", "Symptom::t:2", "presents", "Test KB", "CC0-1.0", 1.0, ({"pmid": "1"}, {"pmid": "2"})),
         Edge("Compound::t:3", "Disease::t:1", "treats", "Test KB", "CC0-1.0", 1.0, ({"pmid": "3"},))],
    )
    return graph


def kg_app() -> typer.Typer:
    """The ``carelm`` app once ``kg`` is registered there; until then a root with only ``kg``."""
    if "kg" in typer.main.get_command(main_app).commands:
        return main_app
    app = typer.Typer()
    kg_cli.register(app)

    @app.callback()
    def root() -> None:
        """carelm"""

    return app


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def invoke(*args: str):
    return runner.invoke(kg_app(), list(args))


# --- CLI ---------------------------------------------------------------------------------------
def test_every_kg_command_takes_db():
    command = typer.main.get_command(kg_app()).commands["kg"]
    for name in ("load", "stats", "neighbours"):
        assert "--db" in {opt for param in command.commands[name].params for opt in param.opts}, name


def test_cli_uses_the_default_graph_until_the_store_holds_one(env):
    db = f"sqlite:///{env / 'kg.db'}"
    stats = invoke("kg", "stats", "--db", db)
    assert stats.exit_code == 0, stats.output
    body = json.loads(stats.output)
    assert body["origin"] == "default" and body["nodes"] == len(default_graph())

    path = env / "graph.jsonl"
    write_jsonl(small_graph(), path)
    loaded = invoke("kg", "load", "jsonl", str(path), "--db", db)
    assert loaded.exit_code == 0, loaded.output
    assert "stored 3 node(s) and 2 edge(s)" in loaded.output
    again = invoke("kg", "load", "jsonl", str(path), "--db", db)
    assert again.exit_code == 0, again.output
    body = json.loads(invoke("kg", "stats", "--db", db).output)
    assert (body["origin"], body["nodes"], body["edges"]) == ("store", 3, 2)

    shown = invoke("kg", "neighbours", "TEST FEVER", "--db", db, "--json")
    assert shown.exit_code == 0, shown.output
    [match] = json.loads(shown.output)["matches"]
    assert match["node"]["id"] == "Disease::t:1"
    assert {(n["edge"], n["direction"], n["id"], n["evidence"]) for n in match["neighbours"]} == {
        ("presents", "out", "Symptom::t:2", 2), ("treats", "in", "Compound::t:3", 1)}
    only = json.loads(invoke("kg", "neighbours", "Disease::t:1", "--kind", "treats", "--db", db, "--json").output)
    assert [n["id"] for n in only["matches"][0]["neighbours"]] == ["Compound::t:3"]
    table = invoke("kg", "neighbours", "testitis", "--db", db)
    assert table.exit_code == 0 and "Fakeprofen" in table.output and "presents" in table.output


def test_cli_loads_hetionet_and_replaces_it_on_reload(env):
    db = f"sqlite:///{env / 'kg.db'}"
    folder = write_hetionet(env / "hetionet")
    first = invoke("kg", "load", "hetionet", str(folder), "--db", db)
    assert first.exit_code == 0, first.output
    second = invoke("kg", "load", "hetionet", str(folder), "--db", db)
    assert "replacing 6 node(s) and 5 edge(s)" in second.output
    body = json.loads(invoke("kg", "stats", "--db", db).output)
    assert body["nodes"] == 6 and body["edges"] == 5 and "SideEffect" not in body["nodes_by_kind"]
    sider = invoke("kg", "load", "hetionet-sider", str(folder), "--db", db)
    assert sider.exit_code == 0 and "non-commercial" in sider.output
    body = json.loads(invoke("kg", "stats", "--db", db).output)
    assert body["edges_by_licence"]["CC-BY-NC-SA-4.0"] == 1


@pytest.mark.parametrize("args, message", [
    (("kg", "load", "umls", "x"), "accepted: hetionet, hetionet-sider"),
    (("kg", "load", "hetionet"), "needs the PATH"),
    (("kg", "load", "icd10cm", "somewhere"), "takes no PATH"),
    (("kg", "load", "jsonl", "no/such/file.jsonl"), "not found"),
    (("kg", "neighbours", "no such thing at all"), "no knowledge-graph node"),
])
def test_cli_errors_are_one_line(env, args, message):
    result = invoke(*args, "--db", f"sqlite:///{env / 'kg.db'}")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cli_loads_the_shipped_default_graph(env):
    db = f"sqlite:///{env / 'kg.db'}"
    result = invoke("kg", "load", "default", "--db", db)
    assert result.exit_code == 0, result.output
    body = json.loads(invoke("kg", "stats", "--db", db).output)
    assert body["origin"] == "store" and body["nodes"] == len(default_graph())


# --- API ---------------------------------------------------------------------------------------
@pytest.fixture
def api(backend_settings: Settings) -> Iterator[httpx.Client]:
    with serving(create_app(backend_settings)) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and response.json()["error"]["code"] == code


def test_api_on_the_default_graph(api: httpx.Client):
    stats = api.get("/v1/kg/stats").json()
    assert stats["origin"] == "default" and stats["nodes"] == len(default_graph())
    found = api.get("/v1/kg/nodes", params={"q": "asthma", "kind": "Disease"}).json()
    assert found["origin"] == "default" and [n["id"] for n in found["items"]] == ["Disease::DOID:2841"]
    asthma = "Disease::DOID:2841"
    for path in (f"/v1/kg/nodes/{asthma}/neighbours", f"/v1/kg/nodes/{quote(asthma)}/neighbours"):
        body = api.get(path, params={"kind": "treats"}).json()
        assert body["node"]["name"] == "asthma" and body["neighbours"], path
        assert {(n["direction"], n["edge"]["kind"], n["node"]["kind"]) for n in body["neighbours"]} == {
            ("in", "treats", "Compound")}
    partial = api.get("/v1/kg/nodes", params={"q": "pulmonary"}).json()
    assert partial["items"] and all("pulmonary" in n["name"].lower() or n["synonyms"] for n in partial["items"])
    spec = api.get("/openapi.json").json()
    assert {"/v1/kg/stats", "/v1/kg/nodes", "/v1/kg/nodes/{node_id}/neighbours"} <= set(spec["paths"])


def test_api_errors(api: httpx.Client):
    assert_error(api.get("/v1/kg/nodes/Disease::nope/neighbours"), 404, "not_found")
    assert_error(api.get("/v1/kg/nodes"), 422, "invalid_input")
    assert_error(api.get("/v1/kg/nodes", params={"q": "x", "limit": 0}), 422, "invalid_input")


def test_api_switches_to_the_store_graph_once_loaded(api: httpx.Client, backend_settings, tmp_path):
    path = tmp_path / "graph.jsonl.gz"
    write_jsonl(small_graph(), path)
    ctx = Context(backend_settings)
    kg_service.load_source(ctx, "jsonl", path)
    assert api.get("/v1/kg/stats").json()["origin"] == "store"
    body = api.get("/v1/kg/nodes/Disease::t:1/neighbours").json()
    assert body["origin"] == "store" and len(body["neighbours"]) == 2
    kg_service.load_source(ctx, "jsonl", path, replace=True)
    ctx.store.kg.save([Node("Symptom::t:4", "Symptom", "Elbow ache", (), "Other KB", "CC0-1.0")],
                      [Edge("Disease::t:1", "Symptom::t:4", "presents", "Other KB", "CC0-1.0", 1.0)])
    ctx.close()
    body = api.get("/v1/kg/nodes/Disease::t:1/neighbours", params={"kind": "presents"}).json()
    assert {n["node"]["id"] for n in body["neighbours"]} == {"Symptom::t:2", "Symptom::t:4"}
