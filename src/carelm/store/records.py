"""Repository of patients, records, notes, annotations and structured items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from carelm.core.errors import NotFoundError
from carelm.core.types import Note, Patient, Record, RecordItem, Span
from carelm.store.crypto import TextCipher
from carelm.store.models import AnnotationRow, CodeRow, NoteRow, PatientRow, RecordItemRow, RecordRow, new_id, utcnow
from carelm.store.surrogates import load_map, merge_maps
from carelm.store.views import DeidText, SaveResult, StoredNote, StoredRecord

INGEST_STAGE = "ingest"
MIN_KNOWN_ID = 5


class RecordRepository:
    """Stores records idempotently (keyed hashes of content) with raw text encrypted."""

    def __init__(self, sessions: sessionmaker[Session], cipher: TextCipher):
        self._sessions = sessions
        self._cipher = cipher

    # --- writing -------------------------------------------------------------------------------
    def save_record(self, record: Record) -> SaveResult:
        """Store one record in its own transaction (see ``save_records``)."""
        return self.save_records([record])[0]

    def save_records(self, records: list[Record]) -> list[SaveResult]:
        """Store records in one transaction: all of them or none.  Notes already stored are skipped."""
        with self._sessions.begin() as session:
            return [self._save_one(session, record) for record in records]

    def _save_one(self, session: Session, record: Record) -> SaveResult:
        patient_id, patient_key = self._upsert_patient(session, record.patient)
        hashes = [self._note_hash(patient_key, note) for note in record.notes]
        if record.external_id:
            record_key = self._cipher.keyed_hash("record", patient_key, record.external_id)
        else:  # a record without an id is identified by its notes' content
            record_key = self._cipher.keyed_hash("record-content", patient_key, *hashes)
        record_id = session.scalar(select(RecordRow.id).where(RecordRow.external_key == record_key))
        created = record_id is None
        if record_id is None:
            record_id = new_id()
            session.add(RecordRow(id=record_id, patient_id=patient_id, external_key=record_key, source=record.source))
            session.add_all(self._item_rows(record_id, record.items))
            session.flush()
        added = self._add_notes(session, record_id, patient_id, record.notes, hashes)
        record.id, record.patient.id = record_id, patient_id
        return SaveResult(record_id, patient_id, added, len(record.notes) - added, created)

    def _note_hash(self, patient_key: str, note: Note) -> str:
        return self._cipher.keyed_hash("note", patient_key, note.kind, note.text)

    def _upsert_patient(self, session: Session, patient: Patient) -> tuple[str, str]:
        key = self._cipher.keyed_hash("patient", patient.external_id)
        found = session.scalar(select(PatientRow.id).where(PatientRow.external_key == key))
        if found is not None:
            return found, key
        patient_id = new_id()
        identity = {
            "external_id": patient.external_id,
            "name": patient.name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
            "sex": patient.sex,
        }
        blob = self._cipher.encrypt(json.dumps(identity), f"patient:{patient_id}")
        session.add(PatientRow(id=patient_id, external_key=key, identity_enc=blob))
        session.flush()
        return patient_id, key

    def _add_notes(
        self, session: Session, record_id: str, patient_id: str, notes: list[Note], hashes: list[str]
    ) -> int:
        existing = set(session.scalars(select(NoteRow.content_hash).where(NoteRow.content_hash.in_(hashes))))
        seq = session.scalar(select(func.count()).select_from(NoteRow).where(NoteRow.record_id == record_id)) or 0
        note_rows: list[dict] = []
        annotation_rows: list[dict] = []
        for note, content_hash in zip(notes, hashes, strict=True):
            if content_hash in existing:
                continue
            existing.add(content_hash)
            note.id = new_id()
            note_rows.append({
                "id": note.id, "seq": seq + len(note_rows), "record_id": record_id, "patient_id": patient_id,
                "content_hash": content_hash,
                "external_key": self._cipher.keyed_hash("note-id", note.external_id) if note.external_id else None,
                "kind": note.kind, "title": note.title, "authored_at": note.authored_at,
                "raw_text_enc": self._cipher.encrypt(note.text, f"note:{note.id}"), "char_count": len(note.text),
                "status": "ingested", "created_at": utcnow(),
            })
            annotation_rows += _annotation_rows(note.id, note.layers, INGEST_STAGE, None)
        if note_rows:
            session.execute(insert(NoteRow), note_rows)
        if annotation_rows:
            session.execute(insert(AnnotationRow), annotation_rows)
        return len(note_rows)

    @staticmethod
    def _item_rows(record_id: str, items: Iterable[RecordItem]) -> list[RecordItemRow]:
        return [
            RecordItemRow(record_id=record_id, kind=i.kind, display=i.display, code=i.code, system=i.system,
                          status=i.status, value=i.value, unit=i.unit, effective=i.effective)
            for i in items
        ]

    def save_processed(self, notes: list[Note], layers: Iterable[str], run_id: str | None) -> None:
        """Replace the given layers of each note with the pipeline's output and mark it processed."""
        layers = list(layers)
        ids = [note.id for note in notes]
        with self._sessions.begin() as session:
            stale = delete(AnnotationRow).where(AnnotationRow.note_id.in_(ids), AnnotationRow.layer.in_(layers))
            session.execute(stale)
            rows: list[dict] = []
            for note in notes:
                produced = {name: spans for name, spans in note.layers.items() if name in layers}
                rows += _annotation_rows(note.id, produced, None, run_id)
            if rows:
                session.execute(insert(AnnotationRow), rows)
            merge_maps(session, self._cipher, notes)
            if "codes" in layers:
                self._replace_codes(session, notes, run_id)
            done = update(NoteRow).values(status="processed", run_id=run_id)
            plain = [note.id for note in notes if "deid" not in note.views]
            if plain:
                session.execute(done.where(NoteRow.id.in_(plain)))
            for note in notes:
                if "deid" in note.views:
                    session.execute(done.where(NoteRow.id == note.id).values(deid_text=note.views["deid"]))

    @staticmethod
    def _replace_codes(session: Session, notes: list[Note], run_id: str | None) -> None:
        """Note-level codes of the run replace the note's earlier ones."""
        ids = [note.id for note in notes]
        session.execute(delete(CodeRow).where(CodeRow.note_id.in_(ids)))
        records = dict(session.execute(select(NoteRow.id, NoteRow.record_id).where(NoteRow.id.in_(ids))).all())
        rows = [
            {"note_id": note.id, "record_id": records[note.id], "system": code.system, "code": code.code,
             "display": code.display, "score": code.score, "stage": code.stage or "unknown",
             "stage_version": (code.stage or "v1").rsplit(".", 1)[-1], "run_id": run_id}
            for note in notes for code in note.codes
        ]
        if rows:
            session.execute(insert(CodeRow), rows)

    def note_codes(self, note_id: str) -> list[dict]:
        with self._sessions() as session:
            rows = session.scalars(select(CodeRow).where(CodeRow.note_id == note_id).order_by(CodeRow.id)).all()
            return [{"system": r.system, "code": r.code, "display": r.display, "score": r.score} for r in rows]

    def mark_failed(self, note_ids: list[str], run_id: str | None) -> None:
        with self._sessions.begin() as session:
            session.execute(update(NoteRow).where(NoteRow.id.in_(note_ids)).values(status="failed", run_id=run_id))

    # --- reading -------------------------------------------------------------------------------
    def count_notes(self, statuses: tuple[str, ...] | None = None) -> int:
        query = select(func.count()).select_from(NoteRow)
        if statuses:
            query = query.where(NoteRow.status.in_(statuses))
        with self._sessions() as session:
            return session.scalar(query) or 0

    def iter_notes(self, statuses: tuple[str, ...] | None, batch_size: int) -> Iterator[list[Note]]:
        """Notes (raw text decrypted) in batches, in a stable order, for a pipeline run."""
        query = select(NoteRow.id).order_by(NoteRow.created_at, NoteRow.id)
        if statuses:
            query = query.where(NoteRow.status.in_(statuses))
        with self._sessions() as session:
            ids = list(session.scalars(query))
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            with self._sessions() as session:
                rows = session.scalars(select(NoteRow).where(NoteRow.id.in_(chunk))).all()
                by_id = {row.id: row for row in rows}
                known = self._known_phi(session, {row.patient_id for row in rows})
                notes = [self._to_note(by_id[i]) for i in chunk if i in by_id]
            for note in notes:
                note.known_phi = known.get(note.patient_id, {})
            yield notes

    def iter_deid_texts(self, batch_size: int = 256, kinds: tuple[str, ...] | None = None) -> Iterator[DeidText]:
        """Every processed note's de-identified text with its note and record ids, in a stable order.

        The material for training on the store (never the raw text); ``kinds`` keeps those note kinds only.
        """
        query = select(NoteRow.id).where(NoteRow.deid_text.is_not(None)).order_by(NoteRow.created_at, NoteRow.id)
        if kinds:
            query = query.where(NoteRow.kind.in_(kinds))
        with self._sessions() as session:
            ids = list(session.scalars(query))
        columns = (NoteRow.id, NoteRow.record_id, NoteRow.patient_id, NoteRow.kind, NoteRow.deid_text)
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            with self._sessions() as session:
                rows = {row[0]: row for row in session.execute(select(*columns).where(NoteRow.id.in_(chunk)))}
            for note_id in chunk:
                if note_id in rows:
                    yield DeidText(*rows[note_id])

    def _known_phi(self, session: Session, patient_ids: set[str]) -> dict[str, dict[str, list[str]]]:
        """What the store already knows identifies each patient (name, record number), for de-identification."""
        known = {}
        for row in session.scalars(select(PatientRow).where(PatientRow.id.in_(patient_ids))):
            identity = json.loads(self._cipher.decrypt(row.identity_enc, f"patient:{row.id}"))
            names = (identity.get("name") or "").replace(",", " ").split()
            record_number = identity["external_id"]  # short ids ("12") would flag ordinary numbers
            known[row.id] = {"NAME": [n for n in names if len(n.strip(".")) > 1],
                             "MRN": [record_number] if len(record_number) >= MIN_KNOWN_ID else []}
        return known

    def _to_note(self, row: NoteRow) -> Note:
        text = self._cipher.decrypt(row.raw_text_enc, f"note:{row.id}") if row.raw_text_enc else ""
        return Note(text=text, id=row.id, patient_id=row.patient_id, kind=row.kind, title=row.title,
                    authored_at=row.authored_at)

    def list_records(self, *, limit: int = 50, offset: int = 0, patient_id: str | None = None) -> list[StoredRecord]:
        note_count = select(func.count()).where(NoteRow.record_id == RecordRow.id).scalar_subquery()
        query = select(RecordRow, note_count).order_by(RecordRow.created_at, RecordRow.id).limit(limit).offset(offset)
        if patient_id:
            query = query.where(RecordRow.patient_id == patient_id)
        with self._sessions() as session:
            return [_record_view(row, notes=[], note_count=count) for row, count in session.execute(query)]

    def count_records(self, patient_id: str | None = None) -> int:
        query = select(func.count()).select_from(RecordRow)
        if patient_id:
            query = query.where(RecordRow.patient_id == patient_id)
        with self._sessions() as session:
            return session.scalar(query) or 0

    def get_record(self, record_id: str, *, include_text: bool = True) -> StoredRecord:
        """A record with its notes, their annotation layers and its structured items."""
        with self._sessions() as session:
            eager = [selectinload(RecordRow.notes).selectinload(NoteRow.annotations), selectinload(RecordRow.items)]
            row = session.get(RecordRow, record_id, options=eager)
            if row is None:
                raise NotFoundError(f"no record with id {record_id!r}")
            notes = [self._note_view(n, include_text) for n in row.notes]
            return _record_view(row, notes=notes, note_count=len(notes))

    def _note_view(self, row: NoteRow, include_text: bool) -> StoredNote:
        layers: dict[str, list[Span]] = {}
        for ann in row.annotations:
            layers.setdefault(ann.layer, []).append(
                Span(ann.start, ann.end, ann.label, dict(ann.attributes or {}), ann.stage)
            )
        text = None
        if include_text and row.raw_text_enc:
            text = self._cipher.decrypt(row.raw_text_enc, f"note:{row.id}")
        return StoredNote(
            id=row.id, record_id=row.record_id, patient_id=row.patient_id, kind=row.kind, title=row.title,
            authored_at=row.authored_at, status=row.status, char_count=row.char_count, text=text,
            deid_text=row.deid_text, layers=layers,
        )

    def surrogate_map(self, patient_id: str) -> dict[str, str]:
        """The patient's decrypted surrogate map (``"TYPE\tsurrogate" -> real``); callers audit the read."""
        with self._sessions() as session:
            return load_map(session, self._cipher, patient_id)

    def stored_note(self, note_id: str, *, include_text: bool) -> StoredNote:
        with self._sessions() as session:
            row = session.get(NoteRow, note_id, options=[selectinload(NoteRow.annotations)])
            if row is None:
                raise NotFoundError(f"no note with id {note_id!r}")
            return self._note_view(row, include_text)

    def patient_identity(self, patient_id: str) -> dict[str, str | None]:
        with self._sessions() as session:
            row = session.get(PatientRow, patient_id)
            if row is None:
                raise NotFoundError(f"no patient with id {patient_id!r}")
            return json.loads(self._cipher.decrypt(row.identity_enc, f"patient:{row.id}"))


def _annotation_rows(
    note_id: str, layers: dict[str, list[Span]], stage: str | None, run_id: str | None
) -> list[dict]:
    """Annotation rows as dicts for one bulk insert; ``stage`` overrides the spans' own producer."""
    rows = []
    for layer, spans in layers.items():
        for span in spans:
            producer = stage or span.stage or "unknown"
            version = producer.rsplit(".", 1)[-1] if "." in producer else "v1"
            rows.append({"note_id": note_id, "layer": layer, "start": span.start, "end": span.end,
                         "label": span.label, "attributes": span.attributes, "stage": producer,
                         "stage_version": version, "run_id": run_id})
    return rows


def _record_view(row: RecordRow, *, notes: list[StoredNote], note_count: int) -> StoredRecord:
    items = [
        RecordItem(kind=i.kind, display=i.display, code=i.code, system=i.system, status=i.status,
                   value=i.value, unit=i.unit, effective=i.effective)
        for i in (row.items if notes else [])
    ]
    return StoredRecord(id=row.id, patient_id=row.patient_id, source=row.source, created_at=row.created_at,
                        note_count=note_count, notes=notes, items=items)
