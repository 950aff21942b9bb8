"""``carelm audit verify|export`` and the ``rotate_command`` of ``carelm keys rotate``: thin wrappers over
carelm.service.audit and carelm.service.keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context, progress_bar
from carelm.service import audit as audit_service
from carelm.service import keys as keys_service

audit_app = typer.Typer(help="The tamper-evident audit trail: verify the hash chain, export entries.",
                        no_args_is_help=True)


@audit_app.command("verify")
@handle_errors
def verify(
    db: DbOption = None,
    expect_head: Annotated[str | None, typer.Option(
        "--expect-head", help="ID:HASH (or HASH) printed by an earlier verify: fail unless that entry is still "
                              "in the log unchanged (catches deleted newest entries).", show_default=False)] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="Verify a JSONL export instead of the database.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the audit log's hash chain and name every edited, deleted, inserted or moved entry; exit 1
    on any problem.  Also checks the signed checkpoint of the newest entry kept outside the database."""
    if file is not None:
        report = audit_service.verify_file(file)
    else:
        ctx = make_context(db)
        report = audit_service.verify_log(ctx, expect_head)
        ctx.close()
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: audit_service.VerifyReport) -> None:
    console.print(f"{report.source}: {report.entries} entr{'y' if report.entries == 1 else 'ies'}"
                  + (f", head {report.head}" if report.head else ""), highlight=False, soft_wrap=True)
    if report.checkpoint == "valid":
        console.print(f"checkpoint: entry {report.checkpoint_id}", highlight=False)
    elif report.checkpoint in ("absent", "off"):
        console.print("checkpoint: none (deleted newest entries are detected only with --expect-head)",
                      highlight=False)
    for problem in report.problems:
        where = f"entry {problem.entry_id}" if problem.entry_id is not None else "checkpoint"
        err_console.print(f"[red]{where}[/red] ({problem.kind}): {problem.message}", highlight=False,
                          soft_wrap=True)
    if report.ok:
        console.print("[green]OK[/green]: the chain is intact")
    else:
        err_console.print(f"[red]FAILED[/red]: {len(report.problems)} problem(s)")


@audit_app.command("export")
@handle_errors
def export(
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced atomically).")],
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (verifiable with `audit verify --file`) or csv.")
                   ] = "jsonl",
    since: Annotated[str | None, typer.Option(help="Entries at or after this date/time (YYYY-MM-DD or ISO 8601, "
                                                   "UTC unless it names a zone).", show_default=False)] = None,
    until: Annotated[str | None, typer.Option(help="Entries at or before this date/time (a date includes the "
                                                   "whole day).", show_default=False)] = None,
) -> None:
    """Write audit entries (id, time, actor, action, target, purpose, outcome, details, hashes) to a file; the
    export itself is recorded in the audit log."""
    ctx = make_context(db)
    report = audit_service.export_log(ctx, out, fmt, since, until)
    ctx.close()
    span = f" (ids {report.first_id}-{report.last_id})" if report.entries else ""
    console.print(f"wrote {report.entries} entr{'y' if report.entries == 1 else 'ies'}{span} to {report.path} as "
                  f"{report.format}; recorded as audit entry {report.event_id}", highlight=False, soft_wrap=True)


@handle_errors
def rotate_command(
    db: DbOption = None,
    new_key_file: Annotated[Path | None, typer.Option(
        "--new-key-file", help="Re-encrypt under the key in this file (mode 0600) while the configured keys "
                               "decrypt; without it, under the configured current key (CARELM_SECRET_KEY).",
        show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(help="Values re-encrypted per committed batch.")
                          ] = keys_service.DEFAULT_BATCH,
    max_batches: Annotated[int | None, typer.Option(
        help="Stop after this many batches (run again to continue).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the values per key version.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Re-encrypt every encrypted value (note text, identities, surrogate maps) under one key, in committed
    batches; an interrupted run continues where it stopped.  Exit 1 if values remain that no key decrypts."""
    ctx = make_context(db)
    new_key = keys_service.read_key_file(new_key_file, ctx.settings.profile) if new_key_file else None
    status = keys_service.key_status(ctx, new_key)
    if dry_run:
        console.print_json(json.dumps(status))
        ctx.close()
        return
    total = sum(status["pending"].values())
    with progress_bar("re-encrypting", total) as advance:
        report = keys_service.rotate_keys(ctx, new_key, batch_size=batch_size, max_batches=max_batches,
                                          on_batch=lambda batch: advance(batch.size))
    ctx.close()
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        rotated = sum(report.rotated.values())
        console.print(f"key version {report.key_version}: {rotated} value(s) re-encrypted in {report.batches} "
                      f"batch(es); {report.status}", highlight=False)
        for name, left in report.remaining.items():
            if left:
                console.print(f"  {name}: {left} value(s) still under another key", highlight=False)
        for failure in report.failed[:20]:
            err_console.print(f"[red]cannot re-encrypt[/red] {failure['column']} {failure['id']} "
                              f"(key version {failure['key_version']}): {failure['reason']}", highlight=False)
        if report.status == "complete" and new_key is not None:
            console.print("now configure the new key as CARELM_SECRET_KEY (or the key file); the old keys no "
                          "longer decrypt anything in this database", highlight=False)
    if report.status == "incomplete":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``carelm audit ...`` to the ``carelm`` command line."""
    app.add_typer(audit_app, name="audit")
