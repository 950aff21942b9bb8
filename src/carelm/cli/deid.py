"""``carelm deid`` and ``carelm reidentify``: thin wrappers over carelm.service.deid."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import (
    DbOption,
    console,
    err_console,
    handle_errors,
    make_context,
    read_text_input,
    stream_jsonl,
)
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
    text = read_text_input(file)
    [out] = deid_service.deidentify_items([deid_service.DeidItem(None, text, patient)], pipeline)
    if output_format == "json":
        sys.stdout.write(json.dumps({"text": out["text"], "spans": out["spans"]}) + "\n")
    else:
        sys.stdout.write(out["text"])


def _deid_jsonl(pipeline, in_path: Path, out_path: Path) -> None:
    def convert(lines, name):
        return deid_service.deidentify_items(deid_service.read_jsonl(lines, name), pipeline)

    total, errors = stream_jsonl(in_path, out_path, "de-identifying", convert)
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
