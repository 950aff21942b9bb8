"""De-identification use-cases: texts without a database, and audited re-identification of stored notes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from carelm.core.errors import ConfigError, InputError, NotFoundError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.core.settings import Settings
from carelm.core.types import Note
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context
from carelm.service.jsonl import INVALID, in_batches, json_objects, run_batch
from carelm.store.crypto import TextCipher

ITEM_KEYS = {"id", "text", "patient"}


@dataclass
class DeidItem:
    """One text to de-identify, or the reason it cannot be."""

    id: Any
    text: str | None
    patient: str | None
    error: str | None = None


def deid_pipeline(mode: str, secret: bytes | None) -> Pipeline:
    """Normalisation then de-identification in ``mode``; ``secret`` keys the per-patient surrogates."""
    stage = create_stage("carelm.deid.v1", mode=mode)
    if secret is not None:
        stage.use_secret(secret)
    return Pipeline([create_stage("carelm.normalize.v1"), stage])


def surrogate_secret(settings: Settings) -> bytes | None:
    """The surrogate secret from the configured key, or None (then surrogates are per process)."""
    try:
        return TextCipher(settings.master_key).derived_secret("surrogates")
    except ConfigError:
        return None


def parse_item(obj: Any, location: str) -> DeidItem:
    """Check one ``{"id", "text", "patient"?}`` object; problems are reported, never raised."""
    if not isinstance(obj, dict):
        return DeidItem(None, None, None, f"{location}: expected a JSON object")
    item_id = obj.get("id")
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        return DeidItem(item_id, None, None, f"{location}: unknown field(s) {unknown}; accepted: id, text, patient")
    text, patient = obj.get("text"), obj.get("patient")
    if not isinstance(text, str):
        return DeidItem(item_id, None, None, f"{location}: field 'text' must be a string")
    if patient is not None and not isinstance(patient, str | int):
        return DeidItem(item_id, None, None, f"{location}: field 'patient' must be a string")
    return DeidItem(item_id, text, None if patient is None else str(patient))


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[DeidItem]:
    """Items of a JSONL stream; a bad line becomes an item carrying its error."""
    for location, obj in json_objects(lines, name):
        yield DeidItem(None, None, None, f"{location}: not valid JSON") if obj is INVALID else parse_item(obj, location)


def deidentify_items(items: Iterable[DeidItem], pipeline: Pipeline, batch_size: int = 64) -> Iterator[dict]:
    """One output dict per input item, in input order: de-identified text and PHI spans, or an error."""
    for batch in in_batches(items, batch_size):
        yield from _run_batch(batch, pipeline)


def _run_batch(batch: list[DeidItem], pipeline: Pipeline) -> Iterator[dict]:
    def note_for(position: int, item: DeidItem) -> Note:
        patient = f"ext:{item.patient}" if item.patient else None
        return Note(text=item.text, id=str(position), patient_id=patient)

    yield from run_batch(batch, pipeline, note_for, lambda item, note: output_for(item.id, note),
                         "de-identification failed for this item")


def output_for(item_id: Any, note: Note) -> dict:
    spans = [{"start": s.start, "end": s.end, "type": s.label, "score": s.attributes.get("score")}
             for s in note.layers["phi"]]
    return {"id": item_id, "text": note.views["deid"], "spans": spans}


def reidentify_note(ctx: Context, note_id: str, purpose: str) -> dict:
    """Rebuild a stored note's real text from its de-identified text and the encrypted surrogate map (audited)."""
    purpose = require(ctx, Permission.RECORDS_REIDENTIFY, target_type="note", target_id=note_id, purpose=purpose)
    if not purpose:
        raise InputError("re-identification needs a stated purpose", location="purpose")
    note = ctx.store.records.stored_note(note_id, include_text=False)
    if note.deid_text is None:
        raise InputError("this note has not been de-identified yet", location=f"note {note_id}")
    outcome = "error"  # the attempt is audited even when the map cannot be read (e.g. a missing key)
    try:
        mapping = ctx.store.records.surrogate_map(note.patient_id)
        outcome = "ok"
    except NotFoundError:  # no surrogate was ever made for this patient
        mapping, outcome = {}, "ok"
    finally:
        ctx.store.audit.record(ctx.actor, "reidentify", "note", note_id, purpose=purpose, outcome=outcome)
    pieces, cursor, restored, unresolved = [], 0, 0, 0
    for span in sorted(note.layers.get("phi", []), key=lambda s: s.attributes.get("new_start", 0)):
        start, end = span.attributes.get("new_start"), span.attributes.get("new_end")
        real = mapping.get(f"{span.label}\t{span.attributes.get('replacement')}")
        if start is None or real is None:
            unresolved += 1
            continue
        pieces += [note.deid_text[cursor:start], real]
        cursor, restored = end, restored + 1
    pieces.append(note.deid_text[cursor:])
    return {"id": note_id, "text": "".join(pieces), "restored": restored, "unresolved": unresolved}
