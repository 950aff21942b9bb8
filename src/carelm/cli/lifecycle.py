"""``carelm lifecycle run``, ``carelm erase`` and ``carelm compliance report``: thin wrappers over
``carelm.service.lifecycle``."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, handle_errors, make_context, progress_display
from carelm.core.errors import InputError
from carelm.service import lifecycle as lifecycle_service

lifecycle_app = typer.Typer(help="The data lifecycle: apply retention policies.", no_args_is_help=True)
compliance_app = typer.Typer(help="Data-quality and compliance checks over the store.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the full report as JSON (with ids).")]


@lifecycle_app.command("run")
@handle_errors
def run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what is due; change nothing.")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Policy file (.json or .toml); default CARELM_RETENTION_POLICY.", show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Judge ages at this ISO date or date-time (UTC) instead of now, e.g. to preview a date.",
        show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Apply the retention policy: purge raw text and delete notes that are due, in batches; audited.
    Running it again changes nothing until more notes fall due."""
    moment = _parse_moment(as_of)
    ctx = make_context(db)
    try:
        with progress_display() as progress:
            task = progress.add_task("retention", total=None)
            report = lifecycle_service.run_retention(
                ctx, policy=policy, dry_run=dry_run, as_of=moment,
                on_total=lambda n: progress.update(task, total=n), on_batch=lambda n: progress.advance(task, n))
    finally:
        ctx.close()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    table = Table(title=f"retention {'(dry run) ' if dry_run else ''}as of {report['as_of']}")
    for column in ("kind", "raw text purged", "notes deleted", "awaiting de-identification"):
        table.add_column(column)
    for kind, counts in report["by_kind"].items():
        table.add_row(kind, str(counts["raw_purged"]), str(counts["notes_deleted"]), str(counts["awaiting_deid"]))
    console.print(table)
    verb = "would remove" if dry_run else "removed"
    rows = ", ".join(f"{table_name} {n}" for table_name, n in report["tables"].items()) or "nothing"
    console.print(f"{verb}: {rows}", highlight=False, soft_wrap=True)
    if report["models_needing_retraining"]:
        names = ", ".join(f"{m['name']} v{m['version']}" for m in report["models_needing_retraining"])
        console.print(f"models {'to flag' if dry_run else 'flagged'} needs_retraining: {names}", highlight=False)
    console.print(f"audit entry {report['audit_event_id']}; ids with --json", highlight=False)


def erase(
    patient: Annotated[str, typer.Option("--patient", help="The patient's external id (as ingested) or internal id.",
                                         show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the certificate and the audit log; name no "
                                                         "patient identifiers).", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the certificate JSON to this file.",
                                             show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Erase a patient and every derived copy (text, annotations, codes, items, surrogate maps, search index
    entries, knowledge-graph evidence); flag models trained on them; print the deletion certificate as JSON."""
    ctx = make_context(db)
    try:
        certificate = lifecycle_service.erase_patient(ctx, patient, reason)
    finally:
        ctx.close()
    text = json.dumps(certificate, indent=2)
    if out is not None:
        _write_atomic(out, text + "\n")
    typer.echo(text)


@compliance_app.command("report")
@handle_errors
def report(
    check: Annotated[list[str] | None, typer.Option(
        "--check", help=f"Run only this check (repeatable): {', '.join(lifecycle_service.CHECKS)}.")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="A rules file in place of the shipped "
                                               "rules/compliance.json.", show_default=False)] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Completeness, consistency, residual PHI and duplicate checks: counts, and ids with --json (never text)."""
    ctx = make_context(db)
    try:
        with progress_display() as progress:
            task = progress.add_task("checking", total=None)
            result = lifecycle_service.compliance_report(ctx, check, rules=rules,
                                                         on_progress=lambda n: progress.advance(task, n))
    finally:
        ctx.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"compliance report ({result['totals']['notes']} notes)")
    table.add_column("check")
    table.add_column("result")
    for name in result["checks"]:
        table.add_row(name, _headline(name, result[name]))
    if "retention" in result:
        overdue = sum(c["raw_purged"] + c["notes_deleted"] for c in result["retention"]["overdue_by_kind"].values())
        table.add_row("retention", f"{overdue} note(s) due under the policy")
    console.print(table)


def _headline(name: str, section: dict[str, Any]) -> str:
    if name == "completeness":
        return f"{section['incomplete']} of {section['checked']} note(s) lack a required section"
    if name == "consistency":
        return f"{section['conflicts']} allergy/medication conflict(s) in {section['patients']} patient(s)"
    if name == "residual_phi":
        return f"{section['flagged']} of {section['scanned']} de-identified note(s) with PHI-like spans"
    return f"{section['exact_groups']} exact group(s), {section['near_pairs']} near-duplicate pair(s)"


def _parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InputError("expected an ISO date (YYYY-MM-DD) or date-time", location="--as-of") from None


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def register(app: typer.Typer) -> None:
    """Add ``carelm lifecycle ...``, ``carelm erase`` and ``carelm compliance ...`` to the command line."""
    app.add_typer(lifecycle_app, name="lifecycle")
    app.command("erase")(handle_errors(erase))
    app.add_typer(compliance_app, name="compliance")
