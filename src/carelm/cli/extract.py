"""``carelm extract``: a thin wrapper over carelm.service.extract (no database)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import console, err_console, handle_errors, read_text_input, stream_jsonl
from carelm.core.errors import InputError
from carelm.core.logging import configure_logging
from carelm.core.settings import get_settings
from carelm.service import extract as extract_service


def extract(
    file: Annotated[str | None, typer.Argument(help="A text file, or - for standard input.")] = None,
    in_jsonl: Annotated[Path | None, typer.Option("--in-jsonl", help="JSONL of {id, text, targets?}.")] = None,
    out_jsonl: Annotated[Path | None, typer.Option("--out-jsonl", help="JSONL of {id, mentions}.")] = None,
) -> None:
    """Find clinical mentions with assertion flags and ICD-10-CM codes, without a database."""
    configure_logging(get_settings().log_level)
    if in_jsonl or out_jsonl:
        if not (in_jsonl and out_jsonl) or file:
            raise InputError("use --in-jsonl and --out-jsonl together, without a FILE argument")
        pipeline = extract_service.extract_pipeline()
        _extract_jsonl(pipeline, in_jsonl, out_jsonl)
        return
    text = read_text_input(file)
    [out] = extract_service.extract_items([extract_service.ExtractItem(None, text)],
                                          extract_service.extract_pipeline())
    if "error" in out:
        raise InputError(out["error"], location=file or "-")
    sys.stdout.write(json.dumps({"mentions": out["mentions"]}, ensure_ascii=False) + "\n")


def _extract_jsonl(pipeline, in_path: Path, out_path: Path) -> None:
    def convert(lines, name):
        return extract_service.extract_items(extract_service.read_jsonl(lines, name), pipeline)

    total, errors = stream_jsonl(in_path, out_path, "extracting", convert)
    console.print(f"wrote {total} line(s) to {out_path}; {errors} could not be processed")
    if errors:
        err_console.print("lines that could not be processed carry an 'error' field")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``extract`` to the ``carelm`` command line."""
    app.command()(handle_errors(extract))
