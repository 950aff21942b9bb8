"""Ingest use-cases: files and folders, or one JSON payload, into the store.

Records are committed in small transactions of whole records, so an ingest that is killed
half-way leaves only whole records behind, and re-running it skips what is already stored.
Bad entries are reported and skipped; good ones are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.ingest.base import IngestIssue, ParsedRecord
from carelm.ingest.discover import iter_input_files, reader_for
from carelm.ingest.fhir import parse_bundle
from carelm.ingest.notes import parse_note_object
from carelm.ingest.tabular import CsvMapping
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context

log = logging.getLogger(__name__)

# Records per transaction: an interrupted ingest loses at most this many uncommitted records,
# which a re-run stores again.
RECORDS_PER_TRANSACTION = 64


@dataclass
class IngestReport:
    files: int = 0
    records_added: int = 0
    notes_added: int = 0
    notes_skipped: int = 0
    record_ids: list[str] = field(default_factory=list)
    issues: list[IngestIssue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files, "records_added": self.records_added, "notes_added": self.notes_added,
            "notes_skipped": self.notes_skipped, "record_ids": self.record_ids,
            "issues": [{"location": i.location, "message": i.message} for i in self.issues],
        }


@dataclass
class IngestOptions:
    format: str | None = None
    csv_mapping: CsvMapping | None = None
    patient: str | None = None
    kind: str = "note"


def ingest_path(
    ctx: Context, path: Path, options: IngestOptions | None = None,
    on_record: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Ingest a file or a folder; ``on_record`` is called after each stored record (for progress)."""
    require(ctx, Permission.RECORDS_WRITE, target_type="path")
    options = options or IngestOptions()
    if not path.exists():
        raise InputError("no such file or folder", location=str(path))
    root = path if path.is_dir() else path.parent
    report = IngestReport()
    for file in iter_input_files(path):
        reader = reader_for(file, format=options.format, csv_mapping=options.csv_mapping,
                            patient=options.patient, kind=options.kind, root=root)
        report.files += 1
        _store_all(ctx, reader.read(file), report, on_record)
    ctx.store.audit.record(ctx.actor, "ingest", "path", None, details=_audit_counts(report))
    return report


def ingest_payload(ctx: Context, payload: Any, location: str = "body") -> IngestReport:
    """Ingest one JSON payload: a FHIR R4 Bundle or a note object (the JSONL line schema)."""
    require(ctx, Permission.RECORDS_WRITE, target_type="payload")
    if not isinstance(payload, dict):
        raise InputError("expected a JSON object: a FHIR Bundle or a note object", location=location)
    if payload.get("resourceType") == "Bundle":
        entries: Iterable[ParsedRecord | IngestIssue] = parse_bundle(payload, location)
    else:
        entries = [parse_note_object(payload, location)]
    report = IngestReport()
    _store_all(ctx, entries, report, None)
    ctx.store.audit.record(ctx.actor, "ingest", "payload", None, details=_audit_counts(report))
    return report


def _store_all(ctx: Context, entries, report: IngestReport, on_record) -> None:
    """Store good entries in chunks (one transaction each) and collect the issues."""
    chunk: list[ParsedRecord] = []
    for entry in entries:
        if isinstance(entry, IngestIssue):
            log.warning("ingest entry rejected", extra={"location": entry.location})
            report.issues.append(entry)
            continue
        chunk.append(entry)
        if len(chunk) >= RECORDS_PER_TRANSACTION:
            _commit(ctx, chunk, report, on_record)
            chunk = []
    if chunk:
        _commit(ctx, chunk, report, on_record)


def _commit(ctx: Context, chunk: list[ParsedRecord], report: IngestReport, on_record) -> None:
    for result in ctx.store.records.save_records([parsed.record for parsed in chunk]):
        report.records_added += int(result.record_created)
        report.notes_added += result.notes_added
        report.notes_skipped += result.notes_skipped
        report.record_ids.append(result.record_id)
        log.debug("record stored", extra={"record_id": result.record_id, "notes_added": result.notes_added})
        if on_record:
            on_record(report)


def _audit_counts(report: IngestReport) -> dict[str, int]:
    return {"records_added": report.records_added, "notes_added": report.notes_added,
            "notes_skipped": report.notes_skipped, "issues": len(report.issues)}
