"""The lineage cascade: every row derived from given patients, records or notes, found through the schema.

Derived rows keep the id of what they came from in a foreign key with ``ON DELETE CASCADE`` (see
``carelm.store.models``).  Rather than naming the tables, the cascade walks those foreign keys in the ORM
metadata, parents first, so a table added later with such a key is erased too.  Keys with ``SET NULL``
(a note's processing run, a code's annotation) mark a reference, not a derivation, and are not followed.
Rows are then deleted children first, each table counted, in the caller's transaction.

Two places keep ids without a foreign key on purpose and are left alone: the audit log (append-only,
hash-chained) and model lineage (``model_training_records``, which must outlive the records).  Failure
entries of processing runs name notes inside a JSON list; :func:`scrub_run_failures` removes them.

SQLite keeps a deleted row's bytes in free pages, and the write-ahead log keeps old page images, until
they are reused: :func:`overwrite_deleted` makes the deleting connection zero them (``secure_delete``)
and :func:`checkpoint` folds the log into the database file and truncates it.  PostgreSQL keeps dead row
versions in its table files until vacuum reclaims them; they are unreachable through SQL at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, delete, select, tuple_
from sqlalchemy.orm import Session

from carelm.store.models import Base, ProcessingRunRow

CHUNK = 500  # keys per IN (...): far below SQLite's and PostgreSQL's parameter limits
Key = tuple[Any, ...]


@dataclass
class CascadeRows:
    """Primary keys of the rows to remove, per table (the seeds included)."""

    rows: dict[str, set[Key]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {table: len(keys) for table, keys in sorted(self.rows.items()) if keys}

    def ids(self, table: str) -> list[str]:
        """The single-column keys of ``table``, sorted."""
        return sorted(str(key[0]) for key in self.rows.get(table, ()))

    def digest(self, table: str) -> str:
        """SHA-256 over the table's sorted keys, one per line (columns joined by ``|``)."""
        return ids_digest(key_text(key) for key in self.rows.get(table, ()))

    def digest_all(self) -> str:
        """SHA-256 over ``table<TAB>key`` lines of every table."""
        return ids_digest(f"{table}\t{key_text(key)}" for table, keys in self.rows.items() for key in keys)


def key_text(key: Key) -> str:
    return "|".join(str(part) for part in key)


def ids_digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def derived_rows(session: Session, seeds: dict[str, Iterable[str]]) -> CascadeRows:
    """The seed rows (``{"notes": ids, ...}``, by primary key) and every row that cascades from them."""
    found: dict[str, set[Key]] = {name: {(value,) for value in values} for name, values in seeds.items()}
    for table in Base.metadata.sorted_tables:  # parents before children
        for fk in table.foreign_keys:
            parent = fk.column.table
            if fk.ondelete is None or fk.ondelete.upper() != "CASCADE" or not found.get(parent.name):
                continue
            if [c.name for c in parent.primary_key.columns] != [fk.column.name]:
                continue  # every lineage key in the schema names its parent's one-column primary key
            values = sorted(key[0] for key in found[parent.name])
            found.setdefault(table.name, set()).update(_keys_where(session, table, fk.parent, values))
    return CascadeRows({name: keys for name, keys in found.items() if keys})


def delete_rows(session: Session, cascade: CascadeRows) -> dict[str, int]:
    """Delete the rows, children first; rows deleted per table."""
    removed: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        keys = sorted(cascade.rows.get(table.name, ()), key=key_text)
        if not keys:
            continue
        columns = list(table.primary_key.columns)
        count = 0
        for chunk in _chunks(keys):
            if len(columns) == 1:
                condition = columns[0].in_([key[0] for key in chunk])
            else:
                condition = tuple_(*columns).in_(chunk)
            count += session.execute(delete(table).where(condition)).rowcount
        removed[table.name] = count
    return dict(sorted(removed.items()))


def overwrite_deleted(session: Session) -> bool:
    """On SQLite, make this session's connection overwrite deleted content with zeros; False elsewhere."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
    return True


def checkpoint(engine: Engine) -> bool:
    """On SQLite, copy the write-ahead log into the database file and truncate it; True when it completed."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return busy == 0


def scrub_run_failures(session: Session, note_ids: Iterable[str], *, dry_run: bool = False) -> int:
    """Remove failure entries naming these notes from processing runs; how many entries (would) go."""
    wanted = set(note_ids)
    if not wanted:
        return 0
    removed = 0
    for run in session.scalars(select(ProcessingRunRow).where(ProcessingRunRow.notes_failed > 0)):
        kept = [entry for entry in run.failures or [] if not _names_note(entry, wanted)]
        dropped = len(run.failures or []) - len(kept)
        if dropped:
            removed += dropped
            if not dry_run:
                run.failures = kept
    return removed


def _names_note(entry: Any, wanted: set[str]) -> bool:
    return isinstance(entry, dict) and entry.get("note_id") in wanted


def _keys_where(session: Session, table: Table, column: Any, values: Sequence[Any]) -> Iterator[Key]:
    columns = list(table.primary_key.columns)
    for chunk in _chunks(values):
        for row in session.execute(select(*columns).where(column.in_(chunk))):
            yield tuple(row)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
