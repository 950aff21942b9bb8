"""Encrypted per-patient maps from real PHI to its surrogates, kept for audited re-identification.

The map outlives the raw text (retention may purge raw text and keep de-identified text),
so it is the one way back from a surrogate to the real value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from carelm.core.errors import NotFoundError
from carelm.core.types import Note
from carelm.store.crypto import TextCipher
from carelm.store.models import SurrogateMapRow, utcnow

PHI_LAYER = "phi"


def map_entries(note: Note) -> dict[str, str]:
    """``"TYPE\\tsurrogate" -> real value`` for every surrogate replacement in the note's phi layer."""
    entries = {}
    for span in note.layers.get(PHI_LAYER, []):
        replacement = span.attributes.get("replacement")
        original = note.text[span.start : span.end]
        if replacement and replacement != original and not replacement.startswith("["):
            entries[f"{span.label}\t{replacement}"] = original
    return entries


def merge_maps(session: Session, cipher: TextCipher, notes: Iterable[Note]) -> None:
    """Add the notes' surrogate entries to their patients' encrypted maps, in the caller's transaction."""
    by_patient: dict[str, dict[str, str]] = {}
    for note in notes:
        if note.patient_id:
            by_patient.setdefault(note.patient_id, {}).update(map_entries(note))
    for patient_id, entries in by_patient.items():
        if not entries:
            continue
        row = session.get(SurrogateMapRow, patient_id, with_for_update=True)
        current = read_map(cipher, row) if row else {}
        current.update(entries)
        blob = cipher.encrypt(json.dumps(current, sort_keys=True), f"surrogates:{patient_id}")
        if row is None:
            session.add(SurrogateMapRow(patient_id=patient_id, map_enc=blob, entries=len(current)))
        else:
            row.map_enc, row.entries, row.updated_at = blob, len(current), utcnow()


def read_map(cipher: TextCipher, row: SurrogateMapRow) -> dict[str, str]:
    return json.loads(cipher.decrypt(row.map_enc, f"surrogates:{row.patient_id}"))


def load_map(session: Session, cipher: TextCipher, patient_id: str) -> dict[str, str]:
    row = session.scalar(select(SurrogateMapRow).where(SurrogateMapRow.patient_id == patient_id))
    if row is None:
        raise NotFoundError(f"no surrogate map for patient {patient_id!r}")
    return read_map(cipher, row)
