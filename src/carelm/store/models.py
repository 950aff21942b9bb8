"""SQLAlchemy ORM models.  The Alembic migrations in ``store/migrations`` create exactly these.

Lineage: every derived row (annotation, code, record item) keeps the id of the note or
record it came from, with ``ON DELETE CASCADE``, so erasing a note removes what was
derived from it.  The one exception is model lineage (``model_training_records``), which
must outlive the records a model was trained on (see ``carelm.store.registry``).
PHI lives only in encrypted columns (``*_enc``) and ``deid_text`` holds de-identified
text once a de-identification stage has run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class PatientRow(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    external_key: Mapped[str] = mapped_column(String(64), unique=True)
    identity_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    records: Mapped[list[RecordRow]] = relationship(back_populates="patient", passive_deletes=True)


class RecordRow(Base):
    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    external_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    patient: Mapped[PatientRow] = relationship(back_populates="records")
    notes: Mapped[list[NoteRow]] = relationship(back_populates="record", passive_deletes=True, order_by="NoteRow.seq")
    items: Mapped[list[RecordItemRow]] = relationship(passive_deletes=True, order_by="RecordItemRow.id")


class NoteRow(Base):
    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    external_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64), default="note")
    title: Mapped[str | None] = mapped_column(String(300))
    authored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    raw_text_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    deid_text: Mapped[str | None] = mapped_column(Text)
    char_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="ingested", index=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("processing_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    record: Mapped[RecordRow] = relationship(back_populates="notes")
    annotations: Mapped[list[AnnotationRow]] = relationship(
        passive_deletes=True, order_by="[AnnotationRow.layer, AnnotationRow.start, AnnotationRow.id]"
    )


class AnnotationRow(Base):
    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_note_layer", "note_id", "layer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    layer: Mapped[str] = mapped_column(String(64))
    start: Mapped[int] = mapped_column("start_char", Integer)
    end: Mapped[int] = mapped_column("end_char", Integer)
    label: Mapped[str] = mapped_column(String(128))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stage: Mapped[str] = mapped_column(String(128))
    stage_version: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("processing_runs.id", ondelete="SET NULL"))


class CodeRow(Base):
    __tablename__ = "codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str | None] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64), index=True)
    display: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[float | None] = mapped_column(Float)
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(128))
    stage_version: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("processing_runs.id", ondelete="SET NULL"))


class RecordItemRow(Base):
    __tablename__ = "record_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    display: Mapped[str] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(64))
    effective: Mapped[str | None] = mapped_column(String(64))


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ProcessingRunRow(Base):
    __tablename__ = "processing_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pipeline: Mapped[dict[str, Any]] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes_total: Mapped[int] = mapped_column(Integer, default=0)
    notes_done: Mapped[int] = mapped_column(Integer, default=0)
    notes_failed: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[Any]] = mapped_column(default=list)


class SurrogateMapRow(Base):
    """Per patient, the encrypted map from real PHI to the surrogates that replaced it (for re-identification)."""

    __tablename__ = "surrogate_maps"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    map_enc: Mapped[bytes] = mapped_column(LargeBinary)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class KeyMaterialRow(Base):
    """Secrets the database keeps encrypted under the current key and re-encrypts on rotation
    (``carelm.store.keyring``): the lookup secrets, and the database's own random id."""

    __tablename__ = "key_material"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelRow(Base):
    """A trained model in the registry: what it is, where its files are, and the snapshot it was trained on."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(32))
    base: Mapped[str | None] = mapped_column(String(500))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[list[Any] | None] = mapped_column()
    path: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(24), default="ready", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    snapshot_hash: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))


class ModelTrainingRecordRow(Base):
    """Lineage: one record a model was trained on.  ``record_id`` deliberately has no foreign key
    (see ``carelm.store.registry``), so erasing the record leaves the row that names the model."""

    __tablename__ = "model_training_records"

    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class KgNodeRow(Base):
    """A knowledge-graph node (``carelm.kg.graph.Node``); ids are ``Kind::identifier``."""

    __tablename__ = "kg_nodes"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(Text)
    synonyms: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(200), index=True)
    licence: Mapped[str] = mapped_column(String(100))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KgEdgeRow(Base):
    """A knowledge-graph edge, or the part of one drawn from a single stored note or record.

    ``id`` is a hash of ends, kind, source and note/record, so saving the same fact again replaces it.
    Ends are plain ids, not foreign keys: sources load independently and in any order.  ``note_id`` and
    ``record_id`` cascade like every other derived row, so erasing a record removes the evidence drawn from it.
    """

    __tablename__ = "kg_edges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(300), index=True)
    target_id: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    licence: Mapped[str] = mapped_column(String(100))
    weight: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note_id: Mapped[str | None] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[str | None] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PrincipalRow(Base):
    """Someone (or some service) that acts through the API or the CLI, with one role (``carelm.lifecycle.access``)."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """An API key of a principal: its public id and the SHA-256 digest of the key, never the key itself."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ErasureCertificateRow(Base):
    """A deletion certificate: what an erasure removed, as counts and hashes, never the removed values.

    ``subject`` is the keyed hash the store uses for the patient's external id (``patients.external_key``);
    ``subject_alias`` a keyed hash of the internal patient id, so a repeated request by either id finds it.
    """

    __tablename__ = "erasure_certificates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    subject_alias: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500))
    removed_total: Mapped[int] = mapped_column(Integer, default=0)
    audit_event_id: Mapped[int | None] = mapped_column(Integer)
    certificate: Mapped[dict[str, Any]] = mapped_column(default=dict)
    certificate_hash: Mapped[str] = mapped_column(String(64))
