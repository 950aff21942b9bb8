"""Applying a retention policy to the store: plan what is due, then purge raw text and delete notes in batches.

A note's age is counted from its ingest time, or from its date (``age_from = "authored"``; dates without
a zone count as UTC).  Once ``purge_raw_after_days`` have passed its encrypted raw text is dropped (status
``raw_purged``); the de-identified text, annotations and codes stay.  With ``require_deid`` (the default)
a note that has no de-identified text yet keeps its raw text and is reported as awaiting de-identification.
Once ``delete_after_days`` have passed the note is deleted with every row derived from it
(``carelm.lifecycle.erasure_cascade``); a record goes with its last note, taking its structured items.

Each batch of whole records is one transaction, so an interrupted run leaves whole batches done and a
second run finishes the rest: nothing already purged or deleted is due again (the run is idempotent).
The plan and the outcome carry ids and counts only, never text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from carelm.lifecycle.erasure_cascade import CHUNK, delete_rows, derived_rows, overwrite_deleted, scrub_run_failures
from carelm.lifecycle.retention_policy import RetentionPolicy, RetentionRule
from carelm.store.models import NoteRow

RAW_PURGED = "raw_purged"
RAW_COLUMN = "notes.raw_text_enc"
DEFAULT_BATCH = 500


@dataclass
class RetentionPlan:
    """What the policy makes due at ``as_of``: note ids per kind, and the records that lose their last note."""

    as_of: datetime
    raw_purge: dict[str, list[str]] = field(default_factory=dict)
    deletions: dict[str, list[str]] = field(default_factory=dict)
    awaiting_deid: dict[str, list[str]] = field(default_factory=dict)
    note_records: dict[str, str] = field(default_factory=dict)  # note id -> record id, for the deletions
    records_emptied: list[str] = field(default_factory=list)

    @property
    def deleted_note_ids(self) -> list[str]:
        return sorted(i for ids in self.deletions.values() for i in ids)

    @property
    def purged_note_ids(self) -> list[str]:
        return sorted(i for ids in self.raw_purge.values() for i in ids)

    def by_kind(self) -> dict[str, dict[str, int]]:
        kinds = sorted(set(self.raw_purge) | set(self.deletions) | set(self.awaiting_deid))
        return {kind: {"raw_purged": len(self.raw_purge.get(kind, [])),
                       "notes_deleted": len(self.deletions.get(kind, [])),
                       "awaiting_deid": len(self.awaiting_deid.get(kind, []))} for kind in kinds}


def plan_retention(sessions: sessionmaker[Session], policy: RetentionPolicy, as_of: datetime | None = None
                   ) -> RetentionPlan:
    """The notes each rule of the policy makes due at ``as_of`` (default now, UTC)."""
    as_of = _utc(as_of or datetime.now(UTC))
    plan = RetentionPlan(as_of)
    with sessions() as session:
        for kinds, rule, exclude in _rule_groups(policy):
            _plan_rule(session, plan, kinds, rule, exclude)
        plan.records_emptied = _records_emptied(session, plan.note_records)
    for mapping in (plan.raw_purge, plan.deletions, plan.awaiting_deid):
        for kind in mapping:
            mapping[kind].sort()
    return plan


def cascade_counts(sessions: sessionmaker[Session], plan: RetentionPlan) -> dict[str, int]:
    """Rows per table that applying the plan would remove (a dry run); raw text purges as ``notes.raw_text_enc``."""
    counts: dict[str, int] = defaultdict(int)
    with sessions() as session:
        for notes, records in _batches(plan, DEFAULT_BATCH):
            for table, n in derived_rows(session, {"notes": notes, "records": records}).counts().items():
                counts[table] += n
        counts["processing_run_failures"] = scrub_run_failures(session, plan.deleted_note_ids, dry_run=True)
    counts[RAW_COLUMN] = len(plan.purged_note_ids)
    return {table: n for table, n in sorted(counts.items()) if n}


def apply_plan(sessions: sessionmaker[Session], plan: RetentionPlan, *, batch_size: int = DEFAULT_BATCH,
               on_batch: Callable[[int], None] | None = None) -> dict[str, int]:
    """Purge and delete what the plan names, one transaction per batch; rows removed per table."""
    counts: dict[str, int] = defaultdict(int)
    purged = plan.purged_note_ids
    for start in range(0, len(purged), batch_size):
        chunk = purged[start:start + batch_size]
        with sessions.begin() as session:
            counts[RAW_COLUMN] += _purge_raw(session, chunk)
        if on_batch:
            on_batch(len(chunk))
    for notes, records in _batches(plan, batch_size):
        with sessions.begin() as session:
            overwrite_deleted(session)
            rows = derived_rows(session, {"notes": notes, "records": records})
            for table, n in delete_rows(session, rows).items():
                counts[table] += n
            counts["processing_run_failures"] += scrub_run_failures(session, notes)
        if on_batch:
            on_batch(len(notes))
    return {table: n for table, n in sorted(counts.items()) if n}


def _purge_raw(session: Session, note_ids: list[str]) -> int:
    query = (update(NoteRow).where(NoteRow.id.in_(note_ids), NoteRow.raw_text_enc.is_not(None))
             .values(raw_text_enc=None, status=RAW_PURGED))
    return session.execute(query).rowcount


def _rule_groups(policy: RetentionPolicy) -> Iterator[tuple[list[str], RetentionRule, bool]]:
    """(kinds, rule, exclude): the rule applies to those kinds, or with ``exclude`` to every other kind."""
    for kind, rule in sorted(policy.kinds.items()):
        if rule.acts:
            yield [kind], rule, False
    if policy.default is not None and policy.default.acts:
        yield sorted(policy.kinds), policy.default, True


def _plan_rule(session: Session, plan: RetentionPlan, kinds: list[str], rule: RetentionRule, exclude: bool) -> None:
    kind_filter = NoteRow.kind.not_in(kinds) if exclude else NoteRow.kind.in_(kinds)
    basis = NoteRow.created_at if rule.age_from == "ingested" else func.coalesce(NoteRow.authored_at,
                                                                                   NoteRow.created_at)
    deleted: set[str] = set()
    delete_before = rule.cutoff(rule.delete_after_days, plan.as_of)
    if delete_before is not None:
        query = select(NoteRow.id, NoteRow.record_id, NoteRow.kind).where(kind_filter, basis < delete_before)
        for note_id, record_id, kind in session.execute(query):
            plan.deletions.setdefault(kind, []).append(note_id)
            plan.note_records[note_id] = record_id
            deleted.add(note_id)
    purge_before = rule.cutoff(rule.purge_raw_after_days, plan.as_of)
    if purge_before is None:
        return
    query = select(NoteRow.id, NoteRow.kind, NoteRow.deid_text.is_not(None)).where(
        kind_filter, basis < purge_before, NoteRow.raw_text_enc.is_not(None))
    for note_id, kind, has_deid in session.execute(query):
        if note_id in deleted:
            continue
        target = plan.raw_purge if has_deid or not rule.require_deid else plan.awaiting_deid
        target.setdefault(kind, []).append(note_id)


def _records_emptied(session: Session, note_records: dict[str, str]) -> list[str]:
    """Records all of whose notes are planned for deletion."""
    planned: dict[str, int] = defaultdict(int)
    for record_id in note_records.values():
        planned[record_id] += 1
    records = sorted(planned)
    emptied = []
    for start in range(0, len(records), CHUNK):
        chunk = records[start:start + CHUNK]
        query = select(NoteRow.record_id, func.count()).where(NoteRow.record_id.in_(chunk)).group_by(NoteRow.record_id)
        emptied += [record_id for record_id, total in session.execute(query) if total == planned[record_id]]
    return sorted(emptied)


def _batches(plan: RetentionPlan, size: int) -> Iterator[tuple[list[str], list[str]]]:
    """(note ids, emptied record ids) in batches of whole records of about ``size`` notes."""
    by_record: dict[str, list[str]] = defaultdict(list)
    for note_id in plan.deleted_note_ids:
        by_record[plan.note_records[note_id]].append(note_id)
    emptied = set(plan.records_emptied)
    notes: list[str] = []
    records: list[str] = []
    for record_id in sorted(by_record):
        notes += by_record[record_id]
        if record_id in emptied:
            records.append(record_id)
        if len(notes) >= size:
            yield notes, records
            notes, records = [], []
    if notes:
        yield notes, records


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plan_summary(plan: RetentionPlan) -> dict[str, Any]:
    """Ids of the plan (for the report)."""
    return {"raw_purged": plan.purged_note_ids, "notes_deleted": plan.deleted_note_ids,
            "records_deleted": list(plan.records_emptied),
            "awaiting_deid": sorted(i for ids in plan.awaiting_deid.values() for i in ids)}
