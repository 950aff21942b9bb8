"""Audit-trail use-cases: verify the hash chain (and its checkpoint), verify an exported file, export entries.

Verification names every entry that is wrong and why; a log whose newest entries were deleted is caught by
the store's signed checkpoint or by a head hash (``ID:HASH``) remembered from an earlier verification.
Exports are written atomically and are themselves recorded in the audit log.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context
from carelm.store.audit import GENESIS, ChainCheck, ChainProblem, check_chain
from carelm.store.audit_checkpoint import CheckpointState

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "at", "actor", "action", "target_type", "target_id", "purpose", "outcome", "details",
           "prev_hash", "hash")
HEAD_PATTERN = re.compile(r"(?:(\d+):)?([0-9a-f]{64})")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class VerifyReport:
    """The outcome of a verification: ``ok`` only when no problem was found."""

    source: str
    entries: int
    head_id: int | None
    head_hash: str | None
    checkpoint: str  # absent | valid | invalid | off | - (files have none)
    checkpoint_id: int | None = None
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head(self) -> str | None:
        """``ID:HASH`` of the newest entry: remember it and pass it to ``--expect-head`` next time."""
        return f"{self.head_id}:{self.head_hash}" if self.head_id is not None else None

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body.update(ok=self.ok, head=self.head)
        return body


@dataclass
class ExportReport:
    path: Path
    format: str
    entries: int
    first_id: int | None
    last_id: int | None
    event_id: int


# --- verification ------------------------------------------------------------------------------
def parse_head(value: str) -> tuple[int | None, str]:
    """``HASH`` or ``ID:HASH`` (64 lower-case hex digits) as printed by ``carelm audit verify``."""
    found = HEAD_PATTERN.fullmatch(value.strip().lower())
    if not found:
        raise InputError("expected head must be HASH or ID:HASH, HASH being 64 hex digits (as printed by "
                         "`carelm audit verify`)", location="expect_head")
    return (int(found.group(1)) if found.group(1) else None), found.group(2)


def verify_log(ctx: Context, expect_head: str | None = None) -> VerifyReport:
    """Recompute the stored chain from entry 1, compare it with the checkpoint and, if given, an expected head."""
    require(ctx, Permission.AUDIT_READ, target_type="audit_log")
    want_id, want_hash = parse_head(expect_head) if expect_head else (None, None)
    checkpoint = ctx.store.audit_checkpoint
    state = checkpoint.read() if checkpoint is not None else CheckpointState("off")

    def remember(entry_id: int, digest: str) -> bool:
        return (state.status == "valid" and entry_id == state.entry_id) or digest == want_hash

    check = ctx.store.audit.check(remember)
    report = _report("database", check, state)
    last = check.head_id or 0
    if state.status == "invalid":
        report.problems.append(ChainProblem(None, "checkpoint", f"the checkpoint file {checkpoint.path} "
                                                                f"fails its check: {state.reason}"))
    elif state.status == "valid" and state.entry_id is not None:
        if state.entry_id > last:
            report.problems.append(ChainProblem(last + 1, "truncated", _truncated(last, state.entry_id)))
        elif f"{state.entry_id}:{state.entry_hash}" not in check.hashes_seen:
            report.problems.append(ChainProblem(state.entry_id, "checkpoint", (
                f"entry {state.entry_id}'s hash differs from the checkpoint's: the log was rewritten at or "
                f"before entry {state.entry_id}")))
    if want_hash is not None and not _seen(check, want_id, want_hash):
        named = f"entry {want_id}" if want_id is not None else "any entry"
        at = want_id if want_id is not None and want_id <= last else last + 1
        message = (_truncated(last, want_id) if want_id is not None and want_id > last else
                   f"{named} does not have the expected head hash {want_hash[:12]}…: the log was truncated or "
                   "rewritten since that head was recorded")
        report.problems.append(ChainProblem(at, "truncated", message))
    return report


def _truncated(last: int, expected: int) -> str:
    missing = f"entry {expected} is" if expected == last + 1 else f"entries {last + 1}-{expected} are"
    return f"{missing} missing: the log ends at entry {last} but entry {expected} was recorded earlier"


def _seen(check: ChainCheck, want_id: int | None, want_hash: str) -> bool:
    if want_id is not None:
        return f"{want_id}:{want_hash}" in check.hashes_seen
    return any(seen.endswith(":" + want_hash) for seen in check.hashes_seen)


def _report(source: str, check: ChainCheck, state: CheckpointState) -> VerifyReport:
    return VerifyReport(source, check.entries, check.head_id, check.head_hash, state.status, state.entry_id,
                        list(check.problems))


def verify_file(path: Path) -> VerifyReport:
    """Recompute the chain of a JSONL export; an excerpt (not starting at entry 1) is checked from its first entry."""
    entries = list(_read_jsonl(path))
    first = entries[0] if entries else None
    starts = first is not None and first["id"] == 1
    check = check_chain(entries, first_id=first["id"] if first else 1, first_prev=GENESIS if starts else None)
    return _report(str(path), check, CheckpointState("-"))


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(path)) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise InputError("not valid JSON; verify reads the JSONL export", location=f"{path}:{n}") from None
        missing = [c for c in COLUMNS if not isinstance(entry, dict) or c not in entry]
        if missing or not isinstance(entry.get("id"), int):
            raise InputError(f"an audit entry needs the fields {', '.join(COLUMNS)} (integer id); missing: "
                             f"{', '.join(missing) or 'id'}", location=f"{path}:{n}")
        yield entry


# --- export --------------------------------------------------------------------------------------
def parse_time(value: str | None, location: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD date or ISO 8601 time (UTC when it names no zone); a date as ``end`` means the day's end."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD) or ISO 8601 time", location=location) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment + timedelta(microseconds=1) if end else moment


def export_log(ctx: Context, out: Path, fmt: str = "jsonl", since: str | None = None,
               until: str | None = None) -> ExportReport:
    """Write the entries with ``since <= at <= until`` in id order to ``out`` and record the export."""
    require(ctx, Permission.AUDIT_READ, target_type="audit_log")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}", location="format")
    start, stop = parse_time(since, "since"), parse_time(until, "until", end=True)
    if start is not None and stop is not None and start >= stop:
        raise InputError("--since must come before --until", location="since")
    details: dict[str, Any] = {"format": fmt, "since": since, "until": until, "file": out.name}
    partial = out.with_name(out.name + ".partial")
    count, first_id, last_id = 0, None, None
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            write = _jsonl_writer(handle) if fmt == "jsonl" else _csv_writer(handle)
            for entry in ctx.store.audit.iter_entries(start, stop):
                write(entry)
                count, first_id, last_id = count + 1, first_id or entry["id"], entry["id"]
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        ctx.store.audit.record(ctx.actor, "audit.export", "audit_log", None, outcome="error",
                               details={**details, "error": type(exc).__name__})
        raise InputError(f"cannot write the export ({type(exc).__name__})", location=str(out)) from None
    details.update(entries=count, first_id=first_id, last_id=last_id)
    event_id = ctx.store.audit.record(ctx.actor, "audit.export", "audit_log", None, details=details)
    return ExportReport(out, fmt, count, first_id, last_id, event_id)


def _jsonl_writer(handle):
    def write(entry: dict[str, Any]) -> None:
        handle.write(json.dumps({c: entry[c] for c in COLUMNS}, ensure_ascii=False) + "\n")

    return write


def _csv_writer(handle):
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)

    def cell(value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if isinstance(value, str) and value.startswith(FORMULA_START):
            return "'" + value  # a spreadsheet would run it as a formula
        return "" if value is None else value

    def write(entry: dict[str, Any]) -> None:
        writer.writerow([cell(entry[c]) for c in COLUMNS])

    return write
