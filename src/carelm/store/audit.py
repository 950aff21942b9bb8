"""An append-only audit log whose entries are chained by hashes, so edits can be detected.

Entry ``n`` stores ``prev_hash`` (the hash of entry ``n - 1``, or 64 zeros for entry 1) and
``hash = sha256(prev_hash + canonical JSON of its fields)``.  Ids are given out under a lock
(a write transaction on SQLite, an advisory lock on PostgreSQL), so concurrent writers never fork
the chain and ids have no gaps.  :func:`check_chain` recomputes a chain and names every entry that
was edited, deleted, inserted or moved; a truncated tail is caught by a checkpoint kept outside the
database (``carelm.store.audit_checkpoint``) or by a head hash the caller remembered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from carelm.store.models import AuditEventRow, utcnow

GENESIS = "0" * 64
CHAIN_FIELDS = ("at", "actor", "action", "target_type", "target_id", "purpose", "outcome", "details")
AUDIT_LOCK = int.from_bytes(hashlib.sha256(b"carelm.audit_events").digest()[:8], "big", signed=True)
MAX_PROBLEMS = 1000  # a log rewritten wholesale would otherwise produce one problem per entry


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    blob = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256((prev_hash + blob).encode()).hexdigest()


def canonical_time(at: datetime | str) -> str:
    """The hashed form of an entry's time: ISO 8601 in UTC (a naive time from SQLite is UTC)."""
    if isinstance(at, str):
        return at
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()


def chain_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """The fields an entry's hash covers, in their hashed form."""
    fields = {name: entry.get(name) for name in CHAIN_FIELDS}
    fields["at"] = canonical_time(entry["at"])
    fields["details"] = entry.get("details") or {}
    return fields


@contextmanager
def write_transaction(sessions: sessionmaker[Session], pg_lock: int | None = None) -> Iterator[Session]:
    """A transaction that holds the write lock from its first statement (SQLite) or ``pg_lock`` (PostgreSQL).

    SQLite's default transaction only takes the write lock at its first write, so two writers could read
    the same state first; ``BEGIN IMMEDIATE`` makes the second wait (up to the busy timeout) instead.
    """
    with sessions() as session:
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif pg_lock is not None and conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": pg_lock})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with the chain, at one entry id."""

    entry_id: int | None  # None for a problem of the checkpoint file itself
    kind: str  # hash_mismatch | broken_link | missing | out_of_order | truncated | checkpoint
    message: str


@dataclass
class ChainCheck:
    """What :func:`check_chain` found."""

    entries: int = 0
    first_id: int | None = None
    head_id: int | None = None
    head_hash: str | None = None
    problems: list[ChainProblem] = field(default_factory=list)
    hashes_seen: set[str] = field(default_factory=set, repr=False)


def check_chain(entries: Iterable[dict[str, Any]], *, first_id: int | None = 1,
                first_prev: str | None = GENESIS, remember: Callable[[int, str], bool] | None = None) -> ChainCheck:
    """Recompute a chain in id order and name each entry that is wrong.

    ``first_id``/``first_prev`` are what the first entry must have (the whole log starts at 1 and the
    genesis hash); None for an excerpt, whose first link cannot be checked.  ``remember(id, hash)``
    says whether to keep an entry's hash in ``hashes_seen`` (for checkpoint and expected-head checks).
    """
    check = ChainCheck()
    expected_id, expected_prev, prev_id = first_id, first_prev, None

    def problem(entry_id: int, kind: str, message: str) -> None:
        if len(check.problems) < MAX_PROBLEMS:
            check.problems.append(ChainProblem(entry_id, kind, message))

    for entry in entries:
        entry_id = int(entry["id"])
        if expected_id is not None and entry_id != expected_id:
            if entry_id > expected_id:
                missing = f"entry {expected_id} is" if entry_id == expected_id + 1 else \
                    f"entries {expected_id}-{entry_id - 1} are"
                problem(expected_id, "missing", f"gap in ids: {missing} missing before entry {entry_id}")
            else:
                after = f"comes after entry {prev_id}" if prev_id is not None else f"comes first, not {expected_id}"
                problem(entry_id, "out_of_order", f"entry {entry_id} {after}: ids must increase by one")
        if expected_prev is not None and entry["prev_hash"] != expected_prev:
            after = f"entry {prev_id}" if prev_id is not None else "the start of the log (genesis)"
            problem(entry_id, "broken_link", f"broken link: prev_hash does not match the hash of {after}")
        if entry_hash(entry["prev_hash"], chain_fields(entry)) != entry["hash"]:
            problem(entry_id, "hash_mismatch", "hash mismatch: the entry's fields or hash were changed after writing")
        if remember is not None and remember(entry_id, entry["hash"]):
            check.hashes_seen.add(f"{entry_id}:{entry['hash']}")
        check.first_id = entry_id if check.first_id is None else check.first_id
        check.entries += 1
        check.head_id, check.head_hash = entry_id, entry["hash"]
        expected_id, expected_prev, prev_id = entry_id + 1, entry["hash"], entry_id
    return check


def row_entry(row: AuditEventRow) -> dict[str, Any]:
    """An entry as exported and checked: stored columns, with the time in its hashed (UTC ISO) form."""
    return {"id": row.id, "at": canonical_time(row.at), "actor": row.actor, "action": row.action,
            "target_type": row.target_type, "target_id": row.target_id, "purpose": row.purpose,
            "outcome": row.outcome, "details": row.details or {}, "prev_hash": row.prev_hash, "hash": row.hash}


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    """Details as they will read back from the database (tuples become lists, other values strings)."""
    return json.loads(json.dumps(details, default=str))


class AuditLog:
    """Records who did what to which object, why, and with what outcome.  Details never hold PHI.

    ``on_append(id, hash)`` runs after each committed entry (the store keeps its checkpoint with it).
    """

    def __init__(self, sessions: sessionmaker[Session], on_append: Callable[[int, str], None] | None = None):
        self._sessions = sessions
        self._on_append = on_append

    def record(
        self, actor: str, action: str, target_type: str, target_id: str | None = None, *,
        outcome: str = "ok", purpose: str | None = None, details: dict[str, Any] | None = None,
    ) -> int:
        """Append one entry (serialised with every other writer) and return its id."""
        with write_transaction(self._sessions, AUDIT_LOCK) as session:
            last = session.execute(
                select(AuditEventRow.id, AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1)
            ).first()
            prev_id, prev = (last.id, last.hash) if last else (0, GENESIS)
            at = utcnow()
            fields = {
                "at": canonical_time(at), "actor": actor, "action": action, "target_type": target_type,
                "target_id": target_id, "purpose": purpose, "outcome": outcome, "details": _json_safe(details or {}),
            }
            digest = entry_hash(prev, fields)
            session.add(AuditEventRow(**{**fields, "at": at}, id=prev_id + 1, prev_hash=prev, hash=digest))
        if self._on_append is not None:
            self._on_append(prev_id + 1, digest)
        return prev_id + 1

    def head(self) -> tuple[int, str] | None:
        """The newest entry's id and hash, or None for an empty log."""
        with self._sessions() as session:
            last = session.execute(
                select(AuditEventRow.id, AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1)
            ).first()
        return (last.id, last.hash) if last else None

    def find_hash(self, digest: str) -> int | None:
        """The id of the entry whose hash is ``digest``, if any."""
        with self._sessions() as session:
            return session.scalar(select(AuditEventRow.id).where(AuditEventRow.hash == digest))

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [
                {"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target_type": r.target_type,
                 "target_id": r.target_id, "purpose": r.purpose, "outcome": r.outcome, "details": r.details}
                for r in session.scalars(query)
            ]

    def iter_entries(self, since: datetime | None = None, until: datetime | None = None,
                     batch_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Entries in id order (``since <= at < until``, times in UTC), read in batches of ``batch_size``."""
        after = 0
        while True:
            query = select(AuditEventRow).where(AuditEventRow.id > after).order_by(AuditEventRow.id).limit(batch_size)
            if since is not None:
                query = query.where(AuditEventRow.at >= since)
            if until is not None:
                query = query.where(AuditEventRow.at < until)
            with self._sessions() as session:
                rows = [row_entry(row) for row in session.scalars(query)]
            yield from rows
            if len(rows) < batch_size:
                return
            after = rows[-1]["id"]

    def check(self, remember: Callable[[int, str], bool] | None = None) -> ChainCheck:
        """Recompute the whole chain from entry 1."""
        return check_chain(self.iter_entries(), remember=remember)
