"""``carelm diagnose``, ``carelm treatments`` and ``carelm interactions``: thin wrappers over the graph reasoning.

Each uses the graph JSONL(.gz) file given with ``--graph``; else the store's graph when the database exists
and holds one (``carelm kg load``), the graph the API reasons over too; else the shipped default graph
(``carelm.kg.build.default_graph()``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, err_console, handle_errors, read_text_input, stream_jsonl
from carelm.core.errors import ConfigError, InputError
from carelm.core.logging import configure_logging
from carelm.core.settings import get_settings
from carelm.service import diagnose as diagnose_service

GraphOption = Annotated[
    Path | None,
    typer.Option("--graph", help="A graph JSONL(.gz) file; default: the store's graph when it holds one, else "
                                 "the built-in knowledge graph.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _graph(path: Path | None, db: str | None) -> Any:
    """The ``--graph`` file; else the store's graph when the database exists and holds one; else the default."""
    if path is not None:
        return diagnose_service.load_graph(path)
    from carelm.service.context import Context

    settings = get_settings(database_url=db)
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file():
        ctx = Context(settings, actor="cli")
        try:
            if not ctx.store.kg.is_empty():
                return ctx.store.kg.load_graph()
        except ConfigError as exc:  # a store this command cannot open (no key, say) holds no graph it can use
            err_console.print(f"[yellow]note:[/yellow] not reading the store's graph ({exc}); using the built-in "
                              "graph", highlight=False, soft_wrap=True)
        finally:
            ctx.close()
    return diagnose_service.load_graph()


def diagnose(
    file: Annotated[str | None, typer.Argument(help="A note to read findings from (a text file, or -).")] = None,
    finding: Annotated[list[str] | None, typer.Option("--finding", help="A present finding (repeatable).")] = None,
    absent: Annotated[list[str] | None, typer.Option("--absent", help="A denied finding (repeatable).")] = None,
    candidate: Annotated[list[str] | None,
                         typer.Option("--candidate", help="Score only these conditions (repeatable).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="How many conditions to show.")] = 10,
    in_jsonl: Annotated[Path | None, typer.Option("--in-jsonl", help="JSONL of {id, text?, findings?, "
                                                                     "absent?, candidates?, top_k?}.")] = None,
    out_jsonl: Annotated[Path | None, typer.Option("--out-jsonl", help="JSONL of {id, differential, findings}.")]
    = None,
    graph: GraphOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Rank conditions explaining the findings (given, or read from a note), each with its supporting paths."""
    configure_logging(get_settings().log_level)
    if in_jsonl or out_jsonl:
        if not (in_jsonl and out_jsonl) or file or finding:
            raise InputError("use --in-jsonl and --out-jsonl together, without a FILE or --finding")
        _diagnose_jsonl(_graph(graph, db), in_jsonl, out_jsonl)
        return
    request: dict[str, Any] = {"findings": finding or [], "absent": absent or [], "top_k": top_k}
    if candidate:
        request["candidates"] = candidate
    if file is not None:
        request["text"] = read_text_input(file)
    item = diagnose_service.check_item(request, "options")
    result = diagnose_service.diagnose(_graph(graph, db), item)
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        _print_differential(result)


def _diagnose_jsonl(graph, in_path: Path, out_path: Path) -> None:
    def convert(lines, name):
        return diagnose_service.diagnose_items(diagnose_service.read_jsonl(lines, name), graph)

    total, errors = stream_jsonl(in_path, out_path, "diagnosing", convert)
    console.print(f"wrote {total} line(s) to {out_path}; {errors} could not be processed")
    if errors:
        err_console.print("lines that could not be processed carry an 'error' field")
        raise typer.Exit(1)


def _print_differential(result: dict[str, Any]) -> None:
    table = Table("#", "condition", "ICD-10", "score", "supporting findings", "also expected")
    for rank, s in enumerate(result["differential"], start=1):
        supporting = ", ".join(f"{e['finding']} ({e['source']})" for e in s["supporting"])
        expected = ", ".join(e["finding"] for e in s["missing"][:3])
        table.add_row(str(rank), s["condition"], s["icd10"] or "", f"{s['score']:.4f}",
                      supporting or s.get("error") or s.get("note", ""), expected)
    console.print(table)
    findings = result["findings"]
    console.print(f"findings: {', '.join(findings['present']) or '-'}; denied: {', '.join(findings['absent']) or '-'}",
                  highlight=False)
    if findings["unmatched"]:
        console.print(f"[yellow]not in the graph:[/yellow] {', '.join(findings['unmatched'])}", highlight=False)
    if not result["differential"]:
        console.print("no condition in the graph explains these findings")


def treatments(
    condition: Annotated[str, typer.Argument(help="A condition name (or ICD-10 code) in the graph.")],
    allergy: Annotated[list[str] | None, typer.Option("--allergy", help="An allergy (repeatable).")] = None,
    medication: Annotated[list[str] | None,
                          typer.Option("--medication", help="A current medication (repeatable).")] = None,
    similar: Annotated[bool, typer.Option("--similar", help="Also compounds for diseases that resemble it, "
                                                            "marked indirect.")] = False,
    graph: GraphOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Compounds that treat or palliate a condition, allergies excluded, interactions with medications flagged."""
    configure_logging(get_settings().log_level)
    report = diagnose_service.treatments(_graph(graph, db), condition, allergy or [],
                                         medication or [], include_similar=similar)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table("compound", "relation", "sources", "warnings", title=f"treatments for {report.condition}")
    for option in report.options:
        sources = ", ".join(sorted({e["source"] for e in option.evidence}))
        warnings = [f"interacts with {i['with']}" + (f" ({i['type']})" if i["type"] else "")
                    for i in option.interactions]
        if option.indirect:
            warnings.append(f"indirect: via {option.via}")
        table.add_row(option.compound, option.relation, sources, "; ".join(warnings))
    console.print(table)
    for excluded in report.excluded:
        console.print(f"[red]excluded[/red] {excluded.compound}: {excluded.reason}", highlight=False, soft_wrap=True)
    _print_unmatched(report.unmatched["allergies"] + report.unmatched["medications"])


def interactions(
    medications: Annotated[list[str], typer.Argument(help="Two or more medication names.")],
    graph: GraphOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Every interacting pair among the medications, with its type and evidence."""
    configure_logging(get_settings().log_level)
    if len(medications) < 2:
        raise InputError("give at least two medications")
    report = diagnose_service.interactions(_graph(graph, db), medications)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        return
    table = Table("medication", "medication", "type", "sources")
    for pair in report.pairs:
        sources = ", ".join(sorted({e["source"] for e in pair["evidence"]}))
        table.add_row(pair["a"], pair["b"], pair["type"] or "", sources)
    console.print(table)
    console.print(f"{len(report.pairs)} interacting pair(s)")
    _print_unmatched(report.unmatched)


def _print_unmatched(names: list[str]) -> None:
    if names:
        console.print(f"[yellow]not in the graph (not checked):[/yellow] {', '.join(names)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``diagnose``, ``treatments`` and ``interactions`` to the ``carelm`` command line."""
    app.command()(handle_errors(diagnose))
    app.command()(handle_errors(treatments))
    app.command()(handle_errors(interactions))
