"""Erasure of one patient from the store: the patient row and every row derived from it, in one transaction.

The patient is found by the internal id or by the external id (through the store's keyed lookup hash).
:func:`erase_patient_rows` walks the lineage cascade (``carelm.lifecycle.erasure_cascade``) from the
patient row: records, notes (raw and de-identified text), annotations, codes, record items, surrogate
maps, knowledge-graph evidence and any later table keyed the same way, and deletes it all, returning
counts and hashes.  The certificate row is written in the same transaction, so a removal without its
certificate cannot happen; the audit entry id is added once the entry exists.

Idempotence: the certificate keeps two keyed hashes, ``subject`` (the store's lookup key of the external
id) and ``subject_alias`` (of the internal id), so a repeated request by either id finds the earlier
certificates although the patient is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carelm.core.errors import InputError
from carelm.lifecycle.erasure_cascade import (
    CHUNK,
    CascadeRows,
    delete_rows,
    derived_rows,
    ids_digest,
    overwrite_deleted,
    scrub_run_failures,
)
from carelm.store.crypto import TextCipher
from carelm.store.models import ErasureCertificateRow, NoteRow, PatientRow, RecordRow

MAX_REASON = 300
MAX_GIVEN_ID = 200


@dataclass(frozen=True, slots=True)
class ErasureTarget:
    """A stored patient to erase, with what identifies it in certificates."""

    patient_id: str
    subject: str
    subject_alias: str
    record_ids: tuple[str, ...]
    note_ids: tuple[str, ...]


@dataclass
class ErasureRemoval:
    """What one erasure removed from the database: rows per table and their hashes."""

    removed: dict[str, int] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    ids_sha256: str = ""
    content_sha256: str = ""
    storage: dict[str, object] = field(default_factory=dict)


def check_request(given: str, reason: str) -> tuple[str, str]:
    """A stripped patient id and reason, or an InputError saying what is accepted."""
    given = (given or "").strip()
    reason = (reason or "").strip()
    if not given or len(given) > MAX_GIVEN_ID or not given.isprintable():
        raise InputError(f"give the patient's internal or external id (1 to {MAX_GIVEN_ID} printable characters)",
                         location="patient")
    if not reason or len(reason) > MAX_REASON or not reason.isprintable():
        raise InputError(f"an erasure needs a reason of 1 to {MAX_REASON} printable characters on one line (no "
                         "patient identifiers)",
                         location="reason")
    return given, reason


def alias_of(cipher: TextCipher, patient_id: str) -> str:
    return cipher.keyed_hash("erasure-patient-id", patient_id)


def find_target(session: Session, cipher: TextCipher, given: str) -> ErasureTarget | None:
    """The stored patient ``given`` names (internal id first, then external id), or None."""
    row = session.get(PatientRow, given)
    if row is None:
        row = session.scalar(select(PatientRow).where(PatientRow.external_key == cipher.keyed_hash("patient", given)))
    if row is None:
        return None
    notes = session.execute(select(NoteRow.id, NoteRow.record_id).where(NoteRow.patient_id == row.id)).all()
    records = session.scalars(select(RecordRow.id).where(RecordRow.patient_id == row.id)).all()
    return ErasureTarget(row.id, row.external_key, alias_of(cipher, row.id), tuple(sorted(records)),
                         tuple(sorted(n for n, _ in notes)))


def previous_certificates(session: Session, cipher: TextCipher, given: str) -> list[tuple[str, str]]:
    """(id, subject) of earlier certificates for the patient ``given`` names (by either id), oldest first."""
    condition = or_(ErasureCertificateRow.subject == cipher.keyed_hash("patient", given),
                    ErasureCertificateRow.subject_alias == alias_of(cipher, given))
    query = (select(ErasureCertificateRow.id, ErasureCertificateRow.subject).where(condition)
             .order_by(ErasureCertificateRow.issued_at, ErasureCertificateRow.id))
    return [(cert_id, subject) for cert_id, subject in session.execute(query)]


def erase_patient_rows(session: Session, target: ErasureTarget) -> ErasureRemoval:
    """Delete the patient and every derived row in the caller's transaction; counts and hashes."""
    overwritten = overwrite_deleted(session)
    cascade = derived_rows(session, {"patients": [target.patient_id]})
    content = _content_hashes(session, cascade)
    removed = delete_rows(session, cascade)
    failures = scrub_run_failures(session, cascade.ids("notes"))
    if failures:
        removed["processing_run_failures"] = failures
    tables = {table: cascade.digest(table) for table in cascade.rows}
    storage = {"backend": session.get_bind().dialect.name, "deleted_bytes_overwritten": overwritten}
    return ErasureRemoval(removed, tables, cascade.digest_all(), ids_digest(content), storage)


def _content_hashes(session: Session, cascade: CascadeRows) -> list[str]:
    note_ids = cascade.ids("notes")
    hashes: list[str] = []
    for start in range(0, len(note_ids), CHUNK):
        query = select(NoteRow.content_hash).where(NoteRow.id.in_(note_ids[start:start + CHUNK]))
        hashes += session.scalars(query).all()
    return hashes
