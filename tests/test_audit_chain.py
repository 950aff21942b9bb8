"""The audit trail's hash chain against SQLite and a real PostgreSQL server: concurrent writers, tampering with
single rows by raw SQL (each is detected and named), truncation (caught by the checkpoint or an expected head)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text

from carelm.service import audit as audit_service
from carelm.service.context import Context
from carelm.store.audit import GENESIS, chain_fields, entry_hash

ENTRIES = 8


def fill(ctx: Context, count: int = ENTRIES) -> None:
    for i in range(1, count + 1):
        ctx.store.audit.record(f"user{i}", "read_phi", "record", f"rec-{i}", purpose="treatment",
                               details={"n": i, "notes": [i, i + 1]})


def run_sql(ctx: Context, sql: str, **params) -> None:
    with ctx.store.engine.begin() as conn:
        conn.execute(text(sql), params)


def rows(ctx: Context) -> list[dict]:
    return list(ctx.store.audit.iter_entries())


def json_param(ctx: Context) -> str:
    return ":v" if ctx.store.backend == "sqlite" else "CAST(:v AS JSON)"


def test_concurrent_writers_keep_one_unbroken_chain(ctx: Context):
    threads, per_thread = 6, 12
    start, errors = threading.Barrier(threads), []

    def write(worker: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                ctx.store.audit.record(f"worker{worker}", "read_phi", "note", f"n-{worker}-{i}", details={"i": i})
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    entries = rows(ctx)
    assert [e["id"] for e in entries] == list(range(1, threads * per_thread + 1))
    assert len({e["prev_hash"] for e in entries}) == len(entries)  # no two entries share a parent: no fork
    report = audit_service.verify_log(ctx)
    assert report.ok, report.problems
    assert report.entries == threads * per_thread and report.checkpoint == "valid"
    assert report.checkpoint_id == threads * per_thread


def test_an_untouched_log_verifies_and_its_hashes_follow_the_documented_format(ctx: Context):
    fill(ctx)
    entries = rows(ctx)
    assert entries[0]["prev_hash"] == GENESIS
    for before, entry in zip([None, *entries], entries, strict=False):
        assert entry["hash"] == entry_hash(entry["prev_hash"], chain_fields(entry))
        if before:
            assert entry["prev_hash"] == before["hash"]
    assert entries[0]["at"].endswith("+00:00") and entries[0]["details"] == {"n": 1, "notes": [1, 2]}
    report = audit_service.verify_log(ctx)
    assert report.ok and report.head == f"{ENTRIES}:{entries[-1]['hash']}"


# column, value (SQL parameter), whether the value is JSON
EDITS = [
    ("at", "2001-02-03 04:05:06", False),
    ("actor", "mallory", False),
    ("action", "read", False),
    ("target_type", "patient", False),
    ("target_id", "rec-999", False),
    ("target_id", None, False),
    ("purpose", "curiosity", False),
    ("purpose", None, False),
    ("outcome", "denied", False),
    ("details", json.dumps({"n": 999, "notes": [1, 2]}), True),
    ("prev_hash", "ab" * 32, False),
    ("hash", "cd" * 32, False),
]


@pytest.mark.parametrize("tampered", [4, ENTRIES])
@pytest.mark.parametrize(("column", "value", "is_json"), EDITS, ids=[f"{c}={v}" for c, v, _ in EDITS])
def test_editing_any_field_of_any_row_fails_verification_and_names_the_row(ctx: Context, column, value, is_json,
                                                                           tampered):
    fill(ctx)
    placeholder = json_param(ctx) if is_json else ":v"
    if column == "at" and ctx.store.backend == "postgresql":
        value += "+00"
    run_sql(ctx, f"UPDATE audit_events SET {column} = {placeholder} WHERE id = :id", v=value, id=tampered)
    report = audit_service.verify_log(ctx)
    assert not report.ok
    assert report.problems[0].entry_id == tampered
    kinds = {p.kind for p in report.problems if p.entry_id == tampered}
    assert kinds & {"hash_mismatch", "broken_link"}
    assert all(p.entry_id in (tampered, tampered + 1) for p in report.problems)


def test_a_changed_id_is_named(ctx: Context):
    fill(ctx)
    run_sql(ctx, "UPDATE audit_events SET id = 1000 WHERE id = 4")
    report = audit_service.verify_log(ctx)
    problems = {(p.entry_id, p.kind) for p in report.problems}
    assert (4, "missing") in problems and (5, "broken_link") in problems and (1000, "missing") not in problems
    assert any(p.entry_id == ENTRIES + 1 and "1000" in p.message for p in report.problems)


@pytest.mark.parametrize("deleted", [1, 4, ENTRIES - 1])
def test_deleting_a_row_names_the_missing_entry(ctx: Context, deleted):
    fill(ctx)
    run_sql(ctx, "DELETE FROM audit_events WHERE id = :id", id=deleted)
    report = audit_service.verify_log(ctx)
    assert not report.ok
    missing = [p for p in report.problems if p.kind == "missing"]
    assert [p.entry_id for p in missing] == [deleted]
    assert f"entry {deleted} is missing" in missing[0].message
    assert any(p.kind == "broken_link" and p.entry_id == deleted + 1 for p in report.problems)


@pytest.mark.parametrize(("first", "second"), [(2, 3), (2, 6)])
def test_swapping_two_rows_contents_names_both(ctx: Context, first, second):
    fill(ctx)
    columns = ["at", "actor", "action", "target_type", "target_id", "purpose", "outcome", "details", "prev_hash",
               "hash"]
    with ctx.store.engine.begin() as conn:
        a, b = (conn.execute(text(f"SELECT {', '.join(columns)} FROM audit_events WHERE id = :id"), {"id": i})
                .mappings().one() for i in (first, second))
        # the hash column is unique: park one row's hash first
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE id = :id"), {"h": "0" * 63 + "1", "id": first})
        details = json_param(ctx).replace(":v", ":v_details")
        assignments = ", ".join(f"{c} = {details}" if c == "details" else f"{c} = :v_{c}" for c in columns)
        for target, source in ((second, a), (first, b)):
            values = {f"v_{c}": json.dumps(source[c]) if c == "details" and not isinstance(source[c], str)
                      else source[c] for c in columns}
            conn.execute(text(f"UPDATE audit_events SET {assignments} WHERE id = :id"), {**values, "id": target})
    report = audit_service.verify_log(ctx)
    named = {p.entry_id for p in report.problems}
    assert not report.ok and {first, second} <= named
    assert report.problems[0].entry_id == first


def test_an_inserted_forged_entry_is_named(ctx: Context):
    fill(ctx)
    head = ctx.store.audit.head()
    # a forged entry that links to the head but whose hash was made up
    run_sql(ctx, "INSERT INTO audit_events (id, at, actor, action, target_type, target_id, purpose, outcome, "
                 "details, prev_hash, hash) VALUES (:id, :at, 'x', 'read', 'record', NULL, NULL, 'ok', "
                 f"{json_param(ctx)}, :prev, :hash)",
            id=head[0] + 1, at="2030-01-01 00:00:00" + ("+00" if ctx.store.backend == "postgresql" else ""),
            v="{}", prev=head[1], hash="ef" * 32)
    report = audit_service.verify_log(ctx)
    assert [(p.entry_id, p.kind) for p in report.problems] == [(head[0] + 1, "hash_mismatch")]


def test_deleting_the_newest_entries_is_caught_by_the_checkpoint(ctx: Context):
    fill(ctx)
    run_sql(ctx, "DELETE FROM audit_events WHERE id > :id", id=ENTRIES - 2)
    report = audit_service.verify_log(ctx)
    assert [(p.entry_id, p.kind) for p in report.problems] == [(ENTRIES - 1, "truncated")]
    assert f"entries {ENTRIES - 1}-{ENTRIES} are missing" in report.problems[0].message


def test_without_a_checkpoint_an_expected_head_catches_truncation(ctx: Context):
    fill(ctx)
    head = audit_service.verify_log(ctx).head
    ctx.store.audit_checkpoint.path.unlink()
    run_sql(ctx, "DELETE FROM audit_events WHERE id = :id", id=ENTRIES)
    alone = audit_service.verify_log(ctx)
    assert alone.ok and alone.checkpoint == "absent"  # the honest limit: a shorter chain is still a chain
    for expected in (head, head.split(":")[1]):
        report = audit_service.verify_log(ctx, expect_head=expected)
        assert [(p.entry_id, p.kind) for p in report.problems] == [(ENTRIES, "truncated")]
    assert audit_service.verify_log(ctx, expect_head=f"3:{rows(ctx)[2]['hash']}").ok


def test_a_rewritten_chain_with_recomputed_hashes_is_caught_by_the_checkpoint(ctx: Context):
    fill(ctx)
    entries = rows(ctx)
    prev = entries[2]["hash"]
    with ctx.store.engine.begin() as conn:  # rewrite entries 4.. consistently, as someone without the key could
        for entry in entries[3:]:
            entry = {**entry, "actor": "mallory", "prev_hash": prev}
            digest = entry_hash(prev, chain_fields(entry))
            conn.execute(text("UPDATE audit_events SET actor = 'mallory', prev_hash = :p, hash = :h WHERE id = :id"),
                         {"p": prev, "h": digest, "id": entry["id"]})
            prev = digest
    report = audit_service.verify_log(ctx)
    assert [(p.entry_id, p.kind) for p in report.problems] == [(ENTRIES, "checkpoint")]


def test_an_edited_checkpoint_file_fails_verification(ctx: Context):
    fill(ctx)
    path = ctx.store.audit_checkpoint.path
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "id": 3}))
    report = audit_service.verify_log(ctx)
    assert [(p.entry_id, p.kind) for p in report.problems] == [(None, "checkpoint")]
    ctx.store.audit.record("ops", "read", "record", "r")  # the evidence is kept, not overwritten
    assert json.loads(path.read_text())["id"] == 3


def test_checkpoint_only_moves_forward_and_is_per_database(ctx: Context):
    fill(ctx, 3)
    checkpoint = ctx.store.audit_checkpoint
    checkpoint.advance(2, rows(ctx)[1]["hash"])
    assert checkpoint.read().entry_id == 3
    assert checkpoint.path.name == f"{ctx.store.database_id}.json"
