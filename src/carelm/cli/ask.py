"""``carelm ask``: a grounded answer with citations, or yes/no/maybe answers over given abstracts in batch.

* ``carelm ask QUESTION [--patient ID] [--scope records|literature|both] [--k N] [--json]`` retrieves passages
  from the store and answers from them (or abstains);
* ``carelm ask --in-jsonl IN --out-jsonl OUT [--model PATH]`` answers ``{"id", "question", "contexts"}`` lines
  with yes/no/maybe, a rationale and cited sentences;
* ``carelm ask --train LABELLED --model OUT`` fits a yes/no/maybe model on lines that also carry ``answer``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context, stream_jsonl
from carelm.core.errors import InputError
from carelm.core.logging import configure_logging
from carelm.core.settings import get_settings
from carelm.generate import closed
from carelm.service import ask as ask_service


def ask(
    question: Annotated[str | None, typer.Argument(help="The question (omit with --in-jsonl or --train).")] = None,
    patient: Annotated[str | None, typer.Option(help="Only this patient's records.")] = None,
    scope: Annotated[str, typer.Option(help="records, literature or both.")] = "both",
    k: Annotated[int, typer.Option("--k", help="Passages to retrieve (1-50).")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    in_jsonl: Annotated[Path | None, typer.Option("--in-jsonl", help="JSONL of {id, question, contexts (a list "
                                                                     "of texts)} to answer yes/no/maybe.")] = None,
    out_jsonl: Annotated[Path | None, typer.Option("--out-jsonl", help="JSONL of {id, answer, rationale, "
                                                                       "citations, scores}.")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Yes/no/maybe model file (default: the shipped "
                                                               "PubMedQA model); with --train, where to write it.")]
    = None,
    train: Annotated[Path | None, typer.Option("--train", help="Labelled JSONL ({id, question, contexts, answer}) "
                                                               "to fit a yes/no/maybe model written to --model.")]
    = None,
    db: DbOption = None,
) -> None:
    """Answer a question from stored passages with citations, or yes/no/maybe questions over given abstracts."""
    if train is not None:
        if model is None or question or in_jsonl or out_jsonl:
            raise InputError("use --train LABELLED with --model OUT only")
        configure_logging(get_settings().log_level)
        fitted = ask_service.train_closed(train, model)
        console.print(f"model fitted on {fitted['examples']} question(s), written to {model}", highlight=False)
        return
    if in_jsonl or out_jsonl:
        if not (in_jsonl and out_jsonl) or question:
            raise InputError("use --in-jsonl and --out-jsonl together, without a QUESTION")
        configure_logging(get_settings().log_level)
        _closed_jsonl(in_jsonl, out_jsonl, model)
        return
    if question is None:
        raise InputError("give a QUESTION, or --in-jsonl IN --out-jsonl OUT for yes/no/maybe questions")
    if model is not None:
        raise InputError("--model applies to --in-jsonl (yes/no/maybe) only")
    ctx = make_context(db)
    try:
        result = ask_service.ask(ctx, question, patient=patient, scope=scope, k=k)
    finally:
        ctx.close()
    body = ask_service.answer_to_dict(result)
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        _print_answer(body)


def _closed_jsonl(in_path: Path, out_path: Path, model: Path | None) -> None:
    closed.load_model(model)  # an unusable model fails before any output is written

    def convert(lines, name):
        return ask_service.answer_closed_lines(lines, name, model)

    total, errors = stream_jsonl(in_path, out_path, "answering", convert)
    console.print(f"wrote {total} line(s) to {out_path}; {errors} could not be processed")
    if errors:
        err_console.print("lines that could not be processed carry an 'error' field naming FILE:LINE")
        raise typer.Exit(1)


def _print_answer(body: dict) -> None:
    style = "yellow" if body["abstained"] else "bold"
    console.print(f"[{style}]{body['answer']}[/{style}]", highlight=False, soft_wrap=True)
    if body["citations"]:
        table = Table("#", "document", "span", "scope", "quote")
        for n, c in enumerate(body["citations"], start=1):
            table.add_row(str(n), c["document_id"], f"{c['start']}-{c['end']}", c["scope"], c["quote"])
        console.print(table)
    console.print(f"confidence {body['confidence']:.2f}" + (" (abstained)" if body["abstained"] else ""),
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``ask`` to the ``carelm`` command line."""
    app.command()(handle_errors(ask))
