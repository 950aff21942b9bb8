"""``carelm deid`` and ``carelm reidentify``: thin wrappers over carelm.service.deid."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context, progress_bar
from carelm.core.errors import InputError
from carelm.service import deid as deid_service

MODE_HELP = "surrogate (realistic, consistent per patient), redact ([NAME], [DATE] ...) or mask (*** keeping length)."


def deid(
    file: Annotated[str | None, typer.Argument(help="A text file, or - for standard input.")] = None,
    in_jsonl: Annotated[Path | None, typer.Option("--in-jsonl", help="JSONL of {id, text, patient?}.")] = None,
    out_jsonl: Annotated[Path | None, typer.Option("--out-jsonl", help="JSONL of {id, text, spans}.")] = None,
    mode: Annotated[str, typer.Option(help=MODE_HELP)] = "surrogate",
    output_format: Annotated[str, typer.Option("--format", help="text or json (single input).")] = "text",
    patient: Annotated[str | None, typer.Option(help="Patient id, for consistent surrogates.")] = None,
) -> None:
    """De-identify text without a database: a file, standard input, or JSONL in and out."""
    ctx = make_context(None)
    pipeline = deid_service.deid_pipeline(mode, deid_service.surrogate_secret(ctx.settings))
    if in_jsonl or out_jsonl:
        if not (in_jsonl and out_jsonl) or file:
            raise InputError("use --in-jsonl and --out-jsonl together, without a FILE argument")
        _deid_jsonl(pipeline, in_jsonl, out_jsonl)
        return
    if output_format not in ("text", "json"):
        raise InputError(f"unknown format {output_format!r}; accepted: text, json")
    text = _read_text(file)
    [out] = deid_service.deidentify_items([deid_service.DeidItem(None, text, patient)], pipeline)
    if output_format == "json":
        sys.stdout.write(json.dumps({"text": out["text"], "spans": out["spans"]}) + "\n")
    else:
        sys.stdout.write(out["text"])


def _read_text(file: str | None) -> str:
    if file in (None, "-"):
        return sys.stdin.read()
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as UTF-8 text ({type(exc).__name__})", location=str(path)) from None


def _deid_jsonl(pipeline, in_path: Path, out_path: Path) -> None:
    """Stream IN to OUT (written to a temporary file and moved into place, so OUT is never half-written)."""
    try:
        total = sum(1 for line in in_path.open(encoding="utf-8") if line.strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(in_path)) from None
    tmp = out_path.with_name(out_path.name + ".partial")
    errors = 0
    with in_path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        with progress_bar("de-identifying", total) as advance:
            for out in deid_service.deidentify_items(deid_service.read_jsonl(src, str(in_path)), pipeline):
                errors += "error" in out
                dst.write(json.dumps(out, ensure_ascii=False) + "\n")
                advance()
    os.replace(tmp, out_path)
    console.print(f"wrote {total} line(s) to {out_path}; {errors} could not be de-identified")
    if errors:
        err_console.print("lines that could not be de-identified carry an 'error' field")
        raise typer.Exit(1)


def reidentify(
    note_id: Annotated[str, typer.Argument(help="Stored note id.")],
    purpose: Annotated[str, typer.Option(help="Why the real text is needed (written to the audit log).")],
    db: DbOption = None,
) -> None:
    """Print a stored note's real text rebuilt from its surrogates (audited)."""
    ctx = make_context(db)
    result = deid_service.reidentify_note(ctx, note_id, purpose)
    sys.stdout.write(result["text"])
    ctx.close()


def register(app: typer.Typer) -> None:
    app.command()(handle_errors(deid))
    app.command()(handle_errors(reidentify))
