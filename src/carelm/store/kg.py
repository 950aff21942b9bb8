"""Repository of the knowledge graph: nodes and edges in ``kg_nodes``/``kg_edges``, loaded into memory on demand.

Saving is idempotent.  A node is keyed by its id; an edge row by a hash of its ends, kind, source and the
note/record its evidence came from, so saving the same fact again replaces it.  ``replace_source`` first
removes every node and edge of that source, so reloading a source also drops what it no longer contains.

Evidence drawn from stored notes (items carrying ``note_id``/``record_id``) is split into one row per note
and record, so erasure (:meth:`KgRepository.delete_evidence_for_records`, or the cascade when a record is
deleted) removes exactly that evidence; :meth:`KgRepository.load_graph` joins the rows of one fact again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from carelm.core.errors import InputError
from carelm.kg.graph import Edge, KnowledgeGraph, Node
from carelm.kg.graphfile import assemble
from carelm.store.models import KgEdgeRow, KgNodeRow, NoteRow, RecordRow, utcnow

CHUNK = 1000  # ids per IN (...) and rows per INSERT, far below SQLite's and PostgreSQL's parameter limits
_LIMITS = {"id": 300, "kind": 64, "source": 200, "licence": 100, "source_id": 300, "target_id": 300}


@dataclass(frozen=True, slots=True)
class KgSaveResult:
    """What one save wrote: node and edge rows, and the rows that ``replace_source`` removed first."""

    nodes: int
    edges: int
    replaced_nodes: int = 0
    replaced_edges: int = 0


class KgRepository:
    """Knowledge-graph nodes and edges in the database."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    # --- writing -------------------------------------------------------------------------------
    def save(self, nodes: Iterable[Node], edges: Iterable[Edge],
             replace_source: str | Sequence[str] | None = None) -> KgSaveResult:
        """Store nodes and edges in one transaction, after removing every row of ``replace_source`` (a source
        name or several).  Evidence naming a note or record that is not in the store is an InputError."""
        node_rows = list({row["id"]: row for row in map(_node_row, nodes)}.values())
        edge_rows = _merge_rows(row for edge in edges for row in _edge_rows(edge))
        sources = [replace_source] if isinstance(replace_source, str) else list(replace_source or ())
        now = utcnow()
        with self._sessions.begin() as session:
            _check_lineage(session, edge_rows)
            replaced_edges = replaced_nodes = 0
            for source in sources:
                replaced_edges += session.execute(delete(KgEdgeRow).where(KgEdgeRow.source == source)).rowcount
                replaced_nodes += session.execute(delete(KgNodeRow).where(KgNodeRow.source == source)).rowcount
            _replace_rows(session, KgNodeRow, node_rows, now)
            _replace_rows(session, KgEdgeRow, edge_rows, now)
        return KgSaveResult(len(node_rows), len(edge_rows), replaced_nodes, replaced_edges)

    def delete_evidence_for_records(self, record_ids: Iterable[str]) -> int:
        """Remove the edge rows whose evidence was drawn from any of ``record_ids``; returns how many."""
        ids = sorted(set(record_ids))
        removed = 0
        with self._sessions.begin() as session:
            for chunk in _chunks(ids):
                removed += session.execute(delete(KgEdgeRow).where(KgEdgeRow.record_id.in_(chunk))).rowcount
        return removed

    # --- reading -------------------------------------------------------------------------------
    def nodes(self, kinds: Iterable[str] | None = None) -> list[Node]:
        """Stored nodes, optionally of ``kinds``, in id order."""
        query = select(KgNodeRow.id, KgNodeRow.kind, KgNodeRow.name, KgNodeRow.synonyms, KgNodeRow.source,
                       KgNodeRow.licence, KgNodeRow.attributes).order_by(KgNodeRow.id)
        if kinds is not None:
            query = query.where(KgNodeRow.kind.in_(list(kinds)))
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [Node(i, k, n, tuple(s or ()), src, lic, a or {}) for i, k, n, s, src, lic, a in rows]

    def edges(self) -> list[Edge]:
        """Stored edge rows as edges (one per note/record their evidence came from)."""
        query = select(KgEdgeRow.source_id, KgEdgeRow.target_id, KgEdgeRow.kind, KgEdgeRow.source, KgEdgeRow.licence,
                       KgEdgeRow.weight, KgEdgeRow.evidence, KgEdgeRow.attributes).order_by(KgEdgeRow.id)
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [Edge(s, t, k, src, lic, w, tuple(ev or ()), a or {}) for s, t, k, src, lic, w, ev, a in rows]

    def load_graph(self, kinds: Iterable[str] | None = None) -> KnowledgeGraph:
        """The stored graph in memory, optionally only nodes of ``kinds`` (and the edges between them).
        Edges with an end that is not stored are left out."""
        return assemble(self.nodes(kinds), self.edges())[0]

    def is_empty(self) -> bool:
        with self._sessions() as session:
            return session.scalar(select(KgNodeRow.id).limit(1)) is None

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever rows are saved or deleted: row counts and the latest load times."""
        with self._sessions() as session:
            nodes = session.execute(select(func.count(), func.max(KgNodeRow.loaded_at)).select_from(KgNodeRow)).one()
            edges = session.execute(select(func.count(), func.max(KgEdgeRow.loaded_at)).select_from(KgEdgeRow)).one()
        return (*nodes, *edges)

    def stats(self) -> dict[str, Any]:
        """Node rows per kind and source, edge rows per kind, source and licence, and rows drawn from records."""
        with self._sessions() as session:
            def grouped(column) -> dict[str, int]:
                return dict(session.execute(select(column, func.count()).group_by(column).order_by(column)).all())

            return {
                "nodes": session.scalar(select(func.count()).select_from(KgNodeRow)) or 0,
                "edges": session.scalar(select(func.count()).select_from(KgEdgeRow)) or 0,
                "nodes_by_kind": grouped(KgNodeRow.kind),
                "nodes_by_source": grouped(KgNodeRow.source),
                "edges_by_kind": grouped(KgEdgeRow.kind),
                "edges_by_source": grouped(KgEdgeRow.source),
                "edges_by_licence": grouped(KgEdgeRow.licence),
                "edges_from_records": session.scalar(
                    select(func.count()).select_from(KgEdgeRow).where(KgEdgeRow.record_id.is_not(None))) or 0,
            }


# --- rows --------------------------------------------------------------------------------------
def _check_lengths(what: str, values: dict[str, Any]) -> None:
    for field, limit in _LIMITS.items():
        value = values.get(field)
        if isinstance(value, str) and len(value) > limit:
            raise InputError(f"{what} {field} is longer than {limit} characters", location=f"{what}:{values['id']}")


def _node_row(node: Node) -> dict[str, Any]:
    row = {"id": node.id, "kind": node.kind, "name": node.name, "synonyms": list(node.synonyms),
           "source": node.source, "licence": node.licence, "attributes": dict(node.attributes)}
    _check_lengths("node", row)
    return row


def _edge_rows(edge: Edge) -> list[dict[str, Any]]:
    """One row per (note, record) the edge's evidence names; evidence naming neither shares one row."""
    groups: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for item in edge.evidence:
        note_id, record_id = item.get("note_id"), item.get("record_id")
        if not all(value is None or isinstance(value, str) for value in (note_id, record_id)):
            raise InputError("evidence note_id and record_id must be strings",
                             location=f"edge:{edge.source_id}->{edge.target_id}")
        groups.setdefault((note_id, record_id), []).append(dict(item))
    rows = []
    for (note_id, record_id), evidence in (groups or {(None, None): []}).items():
        key = "\x1f".join((edge.source_id, edge.target_id, edge.kind, edge.source, note_id or "", record_id or ""))
        row = {"id": hashlib.sha256(key.encode()).hexdigest()[:32], "source_id": edge.source_id,
               "target_id": edge.target_id, "kind": edge.kind, "source": edge.source, "licence": edge.licence,
               "weight": edge.weight, "evidence": evidence, "attributes": dict(edge.attributes),
               "note_id": note_id, "record_id": record_id}
        _check_lengths("edge", row)
        rows.append(row)
    return rows


def _merge_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the same id (one fact given twice in one save) become one, with the evidence of both."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["id"])
        if seen is None:
            merged[row["id"]] = row
        else:
            seen["evidence"] = seen["evidence"] + [e for e in row["evidence"] if e not in seen["evidence"]]
    return list(merged.values())


def _check_lineage(session: Session, rows: list[dict[str, Any]]) -> None:
    for column, model in (("record_id", RecordRow), ("note_id", NoteRow)):
        wanted = sorted({row[column] for row in rows if row[column] is not None})
        stored: set[str] = set()
        for chunk in _chunks(wanted):
            stored.update(session.scalars(select(model.id).where(model.id.in_(chunk))))
        missing = [value for value in wanted if value not in stored]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise InputError(f"evidence names {len(missing)} {column.removesuffix('_id')}(s) not in the store: {shown}",
                             location="evidence")


def _replace_rows(session: Session, model: type[KgNodeRow] | type[KgEdgeRow], rows: list[dict[str, Any]],
                  loaded_at: Any) -> None:
    for chunk in _chunks(rows):
        session.execute(delete(model).where(model.id.in_([row["id"] for row in chunk])))
        session.execute(insert(model), [{**row, "loaded_at": loaded_at} for row in chunk])


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
