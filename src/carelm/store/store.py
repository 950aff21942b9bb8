"""The Store: one database, its repositories, and the cipher that protects PHI at rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from carelm.core.errors import StorageError
from carelm.core.settings import Settings
from carelm.store import db, keyring
from carelm.store.audit import AuditLog
from carelm.store.audit_checkpoint import AuditCheckpoint
from carelm.store.crypto import TextCipher
from carelm.store.kg import KgRepository
from carelm.store.models import AnnotationRow, CodeRow, NoteRow, PatientRow, RecordItemRow, RecordRow
from carelm.store.principals import PrincipalRepository
from carelm.store.records import RecordRepository
from carelm.store.registry import ModelRegistry
from carelm.store.runs import RunRepository


class Store:
    """Facade over the repositories; build it with ``Store.open(settings)``."""

    def __init__(self, engine: Engine, cipher: TextCipher, *, database_id: str | None = None,
                 audit_checkpoint_dir: Path | None = None):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.cipher = cipher
        self.database_id = database_id
        self.records = RecordRepository(self.sessions, cipher)
        self.runs = RunRepository(self.sessions)
        # The signed copy of the audit log's head lives outside the database (carelm.store.audit_checkpoint).
        self.audit_checkpoint = None
        if database_id and audit_checkpoint_dir:
            self.audit_checkpoint = AuditCheckpoint(audit_checkpoint_dir / f"{database_id}.json",
                                                    cipher.derived_secret("audit-checkpoint"))
        self.audit = AuditLog(self.sessions, self.audit_checkpoint.advance if self.audit_checkpoint else None)
        self.models = ModelRegistry(self.sessions, self.audit)
        self.kg = KgRepository(self.sessions)
        self.principals = PrincipalRepository(self.sessions)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """Connect, migrate to the newest schema (unless told not to) and check the revision."""
        engine = db.make_engine(settings.resolved_database_url)
        if migrate:
            db.upgrade(engine)
        current, head = db.schema_revision(engine)
        if current != head:
            raise StorageError(f"database schema is at {current or 'nothing'}, expected {head}; run `carelm init`")
        try:
            cipher, database_id = keyring.open_cipher(sessionmaker(engine), keyring.cipher_from_settings(settings))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, cipher, database_id=database_id,
                   audit_checkpoint_dir=settings.resolved_audit_checkpoint_dir)

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
