"""Record read use-cases; reads of note text are audited."""

from __future__ import annotations

from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context
from carelm.store.views import StoredRecord


def list_records(ctx: Context, *, limit: int = 50, offset: int = 0, patient_id: str | None = None):
    """A page of records (no note text) and the total count."""
    require(ctx, Permission.RECORDS_READ, target_type="record")
    records = ctx.store.records.list_records(limit=limit, offset=offset, patient_id=patient_id)
    return records, ctx.store.records.count_records(patient_id)


def get_record(ctx: Context, record_id: str, *, include_text: bool = True, purpose: str | None = None) -> StoredRecord:
    """One record with its notes and annotation layers; reading raw text needs a stated purpose and is audited."""
    require(ctx, Permission.RECORDS_READ, target_type="record", target_id=record_id)
    if include_text:
        purpose = require(ctx, Permission.RECORDS_READ_RAW, target_type="record", target_id=record_id, purpose=purpose)
    record = ctx.store.records.get_record(record_id, include_text=include_text)
    ctx.store.audit.record(ctx.actor, "read_phi" if include_text else "read", "record", record_id, purpose=purpose)
    return record


def load_records(ctx: Context, limit: int, include_text: bool = True) -> list[StoredRecord]:
    """The first ``limit`` records in full (used by ``carelm show`` and the demo)."""
    records, _ = list_records(ctx, limit=limit)
    return [get_record(ctx, r.id, include_text=include_text) for r in records]


def stats(ctx: Context) -> dict:
    require(ctx, Permission.RECORDS_READ, target_type="store")
    return ctx.store.stats()
