"""The model registry: every trained model, its versions, and the records it was trained on.

Lineage design.  ``model_training_records.record_id`` is a plain indexed column, not a
foreign key to ``records``.  Erasing a patient deletes their records (``patients`` ->
``records`` cascade); a cascading foreign key would silently drop the evidence that a model
saw them, and a restricting one would block the erasure of every patient whose data trained
a model.  Keeping the bare id lets erasure, before or after the delete, find those models
(``models_trained_on``) and mark them ``needs_retraining``.  Record ids are random
(``new_id``), derived from nothing about the patient, so a surviving id carries no PHI.
Deleting a *model* does cascade to its lineage rows: they describe the model, not the record.
``register`` refuses record ids that are no longer in the store, so a model whose data was
erased while it trained is reported instead of escaping the retraining mark.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carelm.core.errors import ConflictError, InputError, NotFoundError
from carelm.store.audit import AuditLog
from carelm.store.models import ModelRow, ModelTrainingRecordRow, NoteRow, RecordRow, new_id, utcnow

if TYPE_CHECKING:
    from carelm.store.store import Store

READY, NEEDS_RETRAINING, RETIRED = "ready", "needs_retraining", "retired"
MODEL_STATUSES = (READY, NEEDS_RETRAINING, RETIRED)
DEFAULT_ACTOR = "system"
ID_CHUNK = 1000  # ids per IN (...) query, far below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One registered model version, detached from the database."""

    id: str
    name: str
    version: int
    task: str
    path: str
    status: str
    created_at: datetime
    created_by: str
    snapshot_hash: str
    record_count: int
    base: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    labels: list[str] | None = None
    parent_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields (``created_at`` as ISO 8601)."""
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def snapshot_hash(record_ids: Iterable[str]) -> str:
    """sha256 hex over the sorted, distinct record ids: the same snapshot hashes the same in any order."""
    return hashlib.sha256("\n".join(sorted(set(record_ids))).encode()).hexdigest()


class ModelRegistry:
    """Trained models by name and version, with the snapshot of records each was trained on."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog):
        self._sessions = sessions
        self._audit = audit

    # --- writing -------------------------------------------------------------------------------
    def register(
        self, name: str, task: str, path: str, *, base: str | None = None, params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None, labels: Sequence[str] | None = None, record_ids: Iterable[str] = (),
        parent_id: str | None = None, actor: str | None = None,
    ) -> ModelEntry:
        """Store the next version of ``name`` with its training snapshot; audited as ``model.register``."""
        _check_fields(name=name, task=task, path=path, params=params, metrics=metrics, labels=labels)
        ids = _distinct_ids(record_ids)
        try:
            with self._sessions.begin() as session:
                _check_references(session, ids, parent_id)
                latest = session.scalar(select(func.max(ModelRow.version)).where(ModelRow.name == name))
                row = ModelRow(
                    id=new_id(), name=name, version=(latest or 0) + 1, task=task, base=base, params=params or {},
                    metrics=metrics or {}, labels=list(labels) if labels is not None else None, path=path,
                    status=READY, created_at=utcnow(), created_by=actor or DEFAULT_ACTOR,
                    snapshot_hash=snapshot_hash(ids), record_count=len(ids), parent_id=parent_id,
                )
                session.add(row)
                session.flush()
                if ids:
                    session.execute(insert(ModelTrainingRecordRow), [{"model_id": row.id, "record_id": i} for i in ids])
                entry = _entry(row)
        except IntegrityError:  # another process registered the same version first
            raise ConflictError(f"model {name!r} got a new version concurrently; register again") from None
        details = {"name": name, "version": entry.version, "task": task, "record_count": entry.record_count,
                   "snapshot_hash": entry.snapshot_hash, "parent_id": parent_id}
        self._audit.record(entry.created_by, "model.register", "model", entry.id, details=details)
        return entry

    def update_metrics(self, model_id: str, metrics: dict[str, Any]) -> ModelEntry:
        """Merge ``metrics`` into the model's metrics (a key given again is replaced)."""
        _check_fields(metrics=metrics)
        with self._sessions.begin() as session:
            row = _row(session, model_id)
            row.metrics = {**row.metrics, **metrics}
            return _entry(row)

    def set_status(self, model_id: str, status: str, reason: str, actor: str | None = None) -> ModelEntry:
        """Move a model to ``status``; a change is audited as ``model.status`` with its reason."""
        _check_status(status)
        with self._sessions.begin() as session:
            row = _row(session, model_id)
            previous, row.status = row.status, status
            entry = _entry(row)
        if previous != status:
            self._audit.record(actor or DEFAULT_ACTOR, "model.status", "model", model_id,
                               details={"from": previous, "to": status, "reason": reason})
        return entry

    def mark_needing_retraining(self, record_ids: Iterable[str], reason: str, actor: str | None = None
                                ) -> list[ModelEntry]:
        """Mark every ``ready`` model trained on any of the records as ``needs_retraining``.

        Returns every model that saw the records, whatever its status, so erasure can reach all
        derived copies; retired models stay retired.  Idempotent: a second call changes and audits nothing.
        """
        ids = _distinct_ids(record_ids)
        with self._sessions.begin() as session:
            model_ids = _models_for_records(session, ids)
            changed = list(session.scalars(
                select(ModelRow.id).where(ModelRow.id.in_(model_ids), ModelRow.status == READY).order_by(ModelRow.id)
            ))
            if changed:
                session.execute(update(ModelRow).where(ModelRow.id.in_(changed)).values(status=NEEDS_RETRAINING))
            entries = _entries(session, model_ids)
        for model_id in changed:
            self._audit.record(actor or DEFAULT_ACTOR, "model.status", "model", model_id, details={
                "from": READY, "to": NEEDS_RETRAINING, "reason": reason, "records_given": len(ids)})
        return entries

    # --- reading -------------------------------------------------------------------------------
    def get(self, name: str, version: int | None = None) -> ModelEntry:
        """A version of the model ``name``; its latest version when ``version`` is None."""
        query = select(ModelRow).where(ModelRow.name == name).order_by(ModelRow.version.desc()).limit(1)
        if version is not None:
            query = query.where(ModelRow.version == version)
        with self._sessions() as session:
            row = session.scalar(query)
            if row is None:
                which = f"model {name!r} version {version}" if version is not None else f"model named {name!r}"
                raise NotFoundError(f"no {which} in the registry")
            return _entry(row)

    def get_by_id(self, model_id: str) -> ModelEntry:
        with self._sessions() as session:
            return _entry(_row(session, model_id))

    def list(self, name: str | None = None, task: str | None = None, status: str | None = None) -> list[ModelEntry]:
        """Registered models, by name then version, optionally filtered."""
        query = select(ModelRow).order_by(ModelRow.name, ModelRow.version)
        if name is not None:
            query = query.where(ModelRow.name == name)
        if task is not None:
            query = query.where(ModelRow.task == task)
        if status is not None:
            _check_status(status)
            query = query.where(ModelRow.status == status)
        with self._sessions() as session:
            return [_entry(row) for row in session.scalars(query)]

    def training_records(self, model_id: str) -> list[str]:
        """The sorted ids of the records the model was trained on (erased ones included)."""
        with self._sessions() as session:
            _row(session, model_id)
            query = select(ModelTrainingRecordRow.record_id).where(ModelTrainingRecordRow.model_id == model_id)
            return sorted(session.scalars(query))

    def models_trained_on(self, record_ids: Iterable[str]) -> list[ModelEntry]:
        """Every model whose training snapshot holds any of the records, by name then version."""
        with self._sessions() as session:
            return _entries(session, _models_for_records(session, _distinct_ids(record_ids)))


def record_ids_of_notes(source: Session | Store, note_ids: Iterable[str]) -> list[str]:
    """The sorted, distinct ids of the records the notes belong to: the snapshot of a model trained on them."""
    wanted = _distinct_ids(note_ids, "note_ids")
    if isinstance(source, Session):
        return _record_ids_of_notes(source, wanted)
    with source.sessions() as session:
        return _record_ids_of_notes(session, wanted)


def _record_ids_of_notes(session: Session, note_ids: list[str]) -> list[str]:
    found: dict[str, str] = {}
    for chunk in _chunks(note_ids):
        rows = session.execute(select(NoteRow.id, NoteRow.record_id).where(NoteRow.id.in_(chunk)))
        found.update((note_id, record_id) for note_id, record_id in rows)
    missing = [i for i in note_ids if i not in found]
    if missing:
        raise NotFoundError(f"{len(missing)} note id(s) are not in the store, e.g. {missing[:3]}", location="note_ids")
    return sorted(set(found.values()))


def _models_for_records(session: Session, record_ids: list[str]) -> list[str]:
    model_ids: set[str] = set()
    for chunk in _chunks(record_ids):
        query = select(ModelTrainingRecordRow.model_id).where(ModelTrainingRecordRow.record_id.in_(chunk))
        model_ids.update(session.scalars(query.distinct()))
    return sorted(model_ids)


def _check_references(session: Session, record_ids: list[str], parent_id: str | None) -> None:
    """Refuse a snapshot naming records that are not (or no longer) stored, or an unknown parent model."""
    existing: set[str] = set()
    for chunk in _chunks(record_ids):
        existing.update(session.scalars(select(RecordRow.id).where(RecordRow.id.in_(chunk))))
    missing = [i for i in record_ids if i not in existing]
    if missing:
        raise NotFoundError(f"{len(missing)} training record id(s) are not in the store (erased since the snapshot "
                            f"was taken?), e.g. {missing[:3]}", location="record_ids")
    if parent_id is not None and session.get(ModelRow, parent_id) is None:
        raise NotFoundError(f"no parent model with id {parent_id!r}", location="parent_id")


def _check_fields(**fields: Any) -> None:
    """Names must be non-empty text and JSON fields JSON-serialisable, so bad input fails before the database."""
    for key in ("name", "task", "path"):
        if key in fields and (not isinstance(fields[key], str) or not fields[key].strip()):
            raise InputError(f"{key} must be a non-empty string", location=key)
    for key in ("params", "metrics", "labels"):
        if fields.get(key) is None:
            continue
        try:
            json.dumps(fields[key] if key != "labels" else list(fields[key]), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{key} must be JSON-serialisable: {exc}", location=key) from None


def _distinct_ids(ids: Iterable[str], location: str = "record_ids") -> list[str]:
    if isinstance(ids, str):  # a lone id would otherwise be read as its characters
        raise InputError(f"{location} must be a collection of ids, not one string", location=location)
    return sorted(set(ids))


def _check_status(status: str) -> None:
    if status not in MODEL_STATUSES:
        raise InputError(f"unknown model status {status!r}; accepted: {', '.join(MODEL_STATUSES)}", location="status")


def _row(session: Session, model_id: str) -> ModelRow:
    row = session.get(ModelRow, model_id)
    if row is None:
        raise NotFoundError(f"no model with id {model_id!r}")
    return row


def _entries(session: Session, model_ids: list[str]) -> list[ModelEntry]:
    rows = session.scalars(select(ModelRow).where(ModelRow.id.in_(model_ids)).order_by(ModelRow.name, ModelRow.version))
    return [_entry(row) for row in rows]


def _entry(row: ModelRow) -> ModelEntry:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite drops the zone
    return ModelEntry(
        id=row.id, name=row.name, version=row.version, task=row.task, path=row.path, status=row.status,
        created_at=created, created_by=row.created_by, snapshot_hash=row.snapshot_hash, record_count=row.record_count,
        base=row.base, params=dict(row.params or {}), metrics=dict(row.metrics or {}),
        labels=list(row.labels) if row.labels is not None else None, parent_id=row.parent_id,
    )


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]
