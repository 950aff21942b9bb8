"""The knowledge-graph repository on every storage backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from carelm.core.errors import InputError
from carelm.core.types import Note, Patient, Record
from carelm.kg.graph import Edge, Node
from carelm.store.models import RecordRow
from carelm.store.store import Store

NODES = [
    Node("Disease::t:1", "Disease", "Testitis", ("test fever",), "Test KB", "CC0-1.0", {"severity": 2}),
    Node("Disease::t:2", "Disease", "Examplosis", (), "Test KB", "CC0-1.0"),
    Node("Symptom::t:3", "Symptom", "Sore elbow", (), "Test KB", "CC0-1.0"),
    Node("Compound::t:4", "Compound", "Fakeprofen", (), "Drug KB", "CC0-1.0"),
]
EDGES = [
    Edge("Disease::t:1", "Symptom::t:3", "presents", "Test KB", "CC0-1.0", 1.0, ({"source": "Test KB"},)),
    Edge("Disease::t:2", "Symptom::t:3", "presents", "Test KB", "CC0-1.0", 1.0, ({"source": "Test KB"},)),
    Edge("Compound::t:4", "Disease::t:1", "treats", "Drug KB", "CC0-1.0", 1.0, ()),
]


def edge_facts(graph) -> set[tuple[str, str, str, str]]:
    return {(e.source_id, e.kind, e.target_id, e.source) for e in graph.edges()}


def stored_records(store: Store, count: int) -> list[tuple[str, str]]:
    """(record id, note id) of ``count`` stored records."""
    out = []
    for i in range(count):
        record = Record(patient=Patient(f"P-kg-{i}", name="Test Person"),
                        notes=[Note(text=f"Elbow sore after juggling, visit {i}.", kind="progress_note")])
        result = store.records.save_record(record)
        out.append((result.record_id, record.notes[0].id))
    return out


def test_save_and_load_round_trip(store: Store):
    result = store.kg.save(NODES, EDGES)
    assert (result.nodes, result.edges) == (4, 3)
    graph = store.kg.load_graph()
    assert sorted(graph.nodes(), key=lambda n: n.id) == sorted(NODES, key=lambda n: n.id)
    assert graph.node("Disease::t:1").attributes == {"severity": 2}
    assert edge_facts(graph) == {(e.source_id, e.kind, e.target_id, e.source) for e in EDGES}
    assert [n.id for n in graph.find("TEST FEVER")] == ["Disease::t:1"]


def test_loading_a_source_twice_replaces_it(store: Store):
    store.kg.save(NODES, EDGES, replace_source="Test KB")
    again = store.kg.save(NODES, EDGES, replace_source="Test KB")
    assert (again.replaced_nodes, again.replaced_edges) == (3, 2)
    stats = store.kg.stats()
    assert (stats["nodes"], stats["edges"]) == (4, 3)
    # a new version of the source without Examplosis drops it and its edge; Drug KB is untouched
    store.kg.save([n for n in NODES if n.id != "Disease::t:2"], [EDGES[0]], replace_source=["Test KB"])
    graph = store.kg.load_graph()
    assert "Disease::t:2" not in graph and len(list(graph.edges())) == 2
    assert store.kg.stats()["nodes_by_source"] == {"Drug KB": 1, "Test KB": 2}


def test_saving_without_replace_never_duplicates(store: Store):
    store.kg.save(NODES, EDGES)
    store.kg.save(NODES, EDGES + EDGES)
    stats = store.kg.stats()
    assert (stats["nodes"], stats["edges"]) == (4, 3)
    assert stats["edges_by_kind"] == {"presents": 2, "treats": 1}
    assert stats["edges_by_licence"] == {"CC0-1.0": 3}


def test_load_graph_by_kind_keeps_edges_between_loaded_nodes(store: Store):
    store.kg.save(NODES, EDGES)
    graph = store.kg.load_graph(kinds=["Disease", "Symptom"])
    assert len(graph) == 3 and {e.kind for e in graph.edges()} == {"presents"}
    assert [n.id for n in store.kg.nodes(["Compound"])] == ["Compound::t:4"]


def test_evidence_from_records_is_split_merged_and_erased(store: Store):
    (record_a, note_a), (record_b, note_b) = stored_records(store, 2)
    mined = Edge("Disease::t:1", "Compound::t:4", "cooccurs", "carelm miner", "Apache-2.0", 2.0, (
        {"note_id": note_a, "record_id": record_a, "sentence": "elbow ... fakeprofen"},
        {"note_id": note_b, "record_id": record_b},
        {"pmid": "12345"},
    ))
    store.kg.save(NODES, [*EDGES, mined])
    assert store.kg.stats()["edges_from_records"] == 2
    [edge] = store.kg.load_graph().edges("cooccurs")
    assert len(edge.evidence) == 3 and edge.weight == 2.0

    assert store.kg.delete_evidence_for_records([record_a, "no-such-record"]) == 1
    [edge] = store.kg.load_graph().edges("cooccurs")
    assert {e.get("record_id") for e in edge.evidence} == {record_b, None}

    with store.sessions.begin() as session:  # erasing the record cascades to the evidence drawn from it
        session.execute(delete(RecordRow).where(RecordRow.id == record_b))
    [edge] = store.kg.load_graph().edges("cooccurs")
    assert edge.evidence == ({"pmid": "12345"},)
    assert store.kg.delete_evidence_for_records([record_a, record_b]) == 0


@pytest.mark.parametrize("edge, message", [
    (Edge("Disease::t:1", "Symptom::t:3", "cooccurs", "m", "l", None, ({"record_id": "f" * 32},)), "record"),
    (Edge("Disease::t:1", "Symptom::t:3", "cooccurs", "m", "l", None, ({"note_id": "0" * 32},)), "note"),
    (Edge("Disease::t:1", "Symptom::t:3", "cooccurs", "m", "l", None, ({"record_id": 7},)), "must be strings"),
    (Edge("Disease::t:1", "Symptom::t:3", "k" * 65, "m", "l"), "longer than 64"),
])
def test_bad_edges_are_refused_and_nothing_is_stored(store: Store, edge, message):
    with pytest.raises(InputError, match=message):
        store.kg.save(NODES, [edge])
    assert store.kg.is_empty()


def test_fingerprint_follows_changes(store: Store):
    empty = store.kg.fingerprint()
    store.kg.save(NODES, EDGES)
    saved = store.kg.fingerprint()
    assert saved != empty and store.kg.fingerprint() == saved
    store.kg.save([], [EDGES[0]], replace_source="Drug KB")
    assert store.kg.fingerprint() != saved
