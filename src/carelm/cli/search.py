"""``carelm index literature|records`` and ``carelm search``: thin wrappers over ``carelm.service.search``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, handle_errors, make_context, progress_display
from carelm.core.errors import InputError
from carelm.core.types import Passage
from carelm.service import search as search_service

index_app = typer.Typer(help="Build the search indexes: literature corpora and the records' de-identified notes.",
                        no_args_is_help=True)
SNIPPET = 160


@index_app.command("literature")
@handle_errors
def index_literature(
    path: Annotated[Path, typer.Argument(help="A BEIR corpus .jsonl or PubMed .xml file (optionally .gz), or a "
                                              "folder of them.")],
    name: Annotated[str | None, typer.Option(help="Index name; default the file or folder name. An index of "
                                                  "the same name is replaced.", show_default=False)] = None,
    format: Annotated[str | None, typer.Option(help="Force a format: jsonl or pubmed.", show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Index a literature corpus (BM25 and MiniLM vectors) under the data folder."""
    ctx = make_context(db)
    with progress_display() as progress:
        task = progress.add_task("embedding passages", total=None)
        manifest = search_service.index_literature(
            ctx, path, name=name, fmt=format, on_total=lambda n: progress.update(task, total=n),
            on_progress=lambda n: progress.advance(task, n))
    console.print(f"literature index {manifest['options']['name']!r}: {manifest['documents']} document(s), "
                  f"{manifest['passages']} passage(s), encoder {manifest['encoder']}", highlight=False)
    ctx.close()


@index_app.command("records")
@handle_errors
def index_records(db: DbOption = None) -> None:
    """Rebuild the records index from every processed note's de-identified text."""
    ctx = make_context(db)
    with progress_display() as progress:
        task = progress.add_task("embedding passages", total=None)
        manifest = search_service.rebuild_records_index(
            ctx, on_total=lambda n: progress.update(task, total=n), on_progress=lambda n: progress.advance(task, n))
    console.print(f"records index: {manifest['documents']} note(s), {manifest['passages']} passage(s)",
                  highlight=False)
    ctx.close()


def search(
    query: Annotated[str | None, typer.Argument(help="What to look for (omit with --in-jsonl).")] = None,
    scope: Annotated[str, typer.Option(help="records, literature or both.")] = "both",
    mode: Annotated[str, typer.Option(help="bm25, dense or hybrid.")] = "hybrid",
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="How many passages (or documents per query).")]
    = 10,
    patient: Annotated[str | None, typer.Option(help="Records: only this patient id.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Records: only this note type (repeatable).")]
    = None,
    section: Annotated[list[str] | None, typer.Option("--section", help="Records: only this section "
                                                                        "(repeatable).")] = None,
    date_from: Annotated[str | None, typer.Option(help="Records: authored on or after (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option(help="Records: authored on or before (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    in_jsonl: Annotated[Path | None, typer.Option("--in-jsonl", help="Queries, one {\"_id\", \"text\"} per line.")]
    = None,
    out_jsonl: Annotated[Path | None, typer.Option("--out-jsonl", help="Run file: {\"qid\", \"ranking\": "
                                                                       "[[doc_id, score], ...]} per query.")] = None,
    db: DbOption = None,
) -> None:
    """Search the indexes: passages for one QUERY, or document rankings for a file of queries."""
    ctx = make_context(db)
    if in_jsonl or out_jsonl:
        if not (in_jsonl and out_jsonl) or query:
            raise InputError("use --in-jsonl and --out-jsonl together, without a QUERY")
        _batch(ctx, in_jsonl, out_jsonl, scope, mode, k)
    elif query is None:
        raise InputError("give a QUERY, or --in-jsonl and --out-jsonl")
    else:
        passages = search_service.search_passages(ctx, query, scope=scope, k=k, mode=mode, patient=patient,
                                                  kinds=kind, sections=section, date_from=date_from, date_to=date_to)
        if as_json:
            sys.stdout.write(json.dumps([passage_json(p) for p in passages], ensure_ascii=False) + "\n")
        else:
            _print_passages(passages)
    ctx.close()


def _batch(ctx, in_path: Path, out_path: Path, scope: str, mode: str, k: int) -> None:
    queries = search_service.read_queries(in_path)
    tmp = out_path.with_name(out_path.name + ".partial")
    with progress_display() as progress:
        task = progress.add_task("searching", total=len(queries))
        rankings = search_service.rank_documents(ctx, queries, k=k, mode=mode, scope=scope,
                                                 on_query=lambda n: progress.advance(task, n))
        try:
            with tmp.open("w", encoding="utf-8") as out:
                for line in rankings:
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, out_path)
    console.print(f"wrote rankings of {len(queries)} query(ies) to {out_path}", highlight=False)


def passage_json(passage: Passage) -> dict:
    return {"id": passage.id, "document_id": passage.document_id, "scope": passage.scope, "start": passage.start,
            "end": passage.end, "score": round(passage.score, 6), "text": passage.text, "metadata": passage.metadata}


def _print_passages(passages: list[Passage]) -> None:
    if not passages:
        console.print("no passages found (is there an index? see `carelm index`)")
        return
    table = Table("#", "score", "scope", "document", "span", "where", "text")
    for rank, p in enumerate(passages, start=1):
        if p.scope == "records":
            where = p.metadata.get("section") or p.metadata.get("kind") or ""
        else:
            where = p.metadata.get("title", "")
        snippet = " ".join(p.text.split())
        snippet = snippet if len(snippet) <= SNIPPET else snippet[: SNIPPET - 1] + "…"
        table.add_row(str(rank), f"{p.score:.4f}", p.scope, p.document_id, f"{p.start}-{p.end}", str(where)[:40],
                      snippet)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``carelm index ...`` and ``carelm search`` to the ``carelm`` command line."""
    app.add_typer(index_app, name="index")
    app.command("search")(handle_errors(search))
