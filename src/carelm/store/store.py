"""The Store: one database, its repositories, and the cipher that protects PHI at rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from carelm.core.errors import StorageError
from carelm.core.settings import Settings
from carelm.store import db
from carelm.store.audit import AuditLog
from carelm.store.crypto import TextCipher
from carelm.store.kg import KgRepository
from carelm.store.models import AnnotationRow, CodeRow, NoteRow, PatientRow, RecordItemRow, RecordRow
from carelm.store.records import RecordRepository
from carelm.store.registry import ModelRegistry
from carelm.store.runs import RunRepository


class Store:
    """Facade over the repositories; build it with ``Store.open(settings)``."""

    def __init__(self, engine: Engine, cipher: TextCipher):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.cipher = cipher
        self.records = RecordRepository(self.sessions, cipher)
        self.runs = RunRepository(self.sessions)
        self.audit = AuditLog(self.sessions)
        self.models = ModelRegistry(self.sessions, self.audit)
        self.kg = KgRepository(self.sessions)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """Connect, migrate to the newest schema (unless told not to) and check the revision."""
        engine = db.make_engine(settings.resolved_database_url)
        if migrate:
            db.upgrade(engine)
        current, head = db.schema_revision(engine)
        if current != head:
            raise StorageError(f"database schema is at {current or 'nothing'}, expected {head}; run `carelm init`")
        return cls(engine, TextCipher(settings.master_key))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def stats(self) -> dict[str, Any]:
        """Row counts, with annotations counted per layer."""
        with self.sessions() as session:
            counts = {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("patients", PatientRow), ("records", RecordRow), ("notes", NoteRow),
                                    ("record_items", RecordItemRow), ("codes", CodeRow))
            }
            by_layer = session.execute(
                select(AnnotationRow.layer, func.count()).group_by(AnnotationRow.layer).order_by(AnnotationRow.layer)
            ).all()
        counts["annotations"] = {layer: n for layer, n in by_layer}
        return counts

    def close(self) -> None:
        self.engine.dispose()
