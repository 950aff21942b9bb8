"""``carelm kg load|stats|neighbours``: the knowledge graph in the store (or the shipped default graph)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context
from carelm.service import kg as kg_service

kg_app = typer.Typer(help="The medical knowledge graph: load sources into the store, count, look up.",
                     no_args_is_help=True)


@kg_app.command("load")
@handle_errors
def load(
    source: Annotated[str, typer.Argument(help=f"One of: {', '.join(kg_service.SOURCES)}.")],
    path: Annotated[Path | None, typer.Argument(
        help="The source's files: the Hetionet folder, the DDXPlus folder or a graph JSONL(.gz) file; "
             "none for icd10cm and default.", show_default=False)] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="jsonl/default: first remove every row of the sources the file names.")] = False,
    db: DbOption = None,
) -> None:
    """Store a knowledge source; loading it again replaces it.  hetionet-sider adds SIDER side effects
    (CC BY-NC-SA 4.0: non-commercial use only, from a path you give)."""
    ctx = make_context(db)
    if source in kg_service.NONCOMMERCIAL:
        err_console.print("[yellow]note:[/yellow] SIDER side effects are CC BY-NC-SA 4.0: non-commercial use only, "
                          "never to be redistributed", highlight=False)
    report = kg_service.load_source(ctx, source, path, replace=replace)
    replaced = (f", replacing {report.replaced_nodes} node(s) and {report.replaced_edges} edge(s)"
                if report.replaced_nodes or report.replaced_edges else "")
    console.print(f"{source}: stored {report.nodes} node(s) and {report.edges} edge(s){replaced}; "
                  f"{report.name_links} name link(s) between sources", highlight=False, soft_wrap=True)
    ctx.close()


@kg_app.command("stats")
@handle_errors
def stats(db: DbOption = None) -> None:
    """Nodes and edges by kind, source and licence, as JSON (origin: the store, or the default graph)."""
    ctx = make_context(db)
    console.print_json(json.dumps(kg_service.stats(ctx)))
    ctx.close()


@kg_app.command("neighbours")
@handle_errors
def neighbours(
    term: Annotated[str, typer.Argument(help="A name or synonym (any case), or a node id such as Disease::DOID:2841.")],
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", help="Only edges of this kind (repeatable): treats, presents, is_a, ...")] = None,
    node_kind: Annotated[list[str] | None, typer.Option(
        "--node-kind", help="Only match nodes of this kind (repeatable): Disease, Symptom, Compound, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many neighbours per node.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    db: DbOption = None,
) -> None:
    """The node(s) TERM names and their neighbours: edge kind, direction, source and evidence count."""
    ctx = make_context(db)
    graph, origin = kg_service.GraphCache().get(ctx)
    found = kg_service.lookup(graph, term, kind, node_kind, limit)
    ctx.close()
    if as_json:
        body = [{"node": {"id": node.id, "kind": node.kind, "name": node.name, "source": node.source},
                 "neighbours": [{"direction": direction, "edge": edge.kind, "id": other.id, "name": other.name,
                                 "kind": other.kind, "source": edge.source, "evidence": len(edge.evidence)}
                                for direction, edge, other in near]}
                for node, near in found]
        console.print_json(json.dumps({"origin": origin, "matches": body}))
        return
    for node, near in found:
        table = Table(title=f"{node.id}  {node.name}  ({node.kind}, {node.source}; graph: {origin})")
        for column in ("edge", "", "node", "name", "source", "evidence"):
            table.add_column(column, overflow="fold")
        for direction, edge, other in near:
            table.add_row(edge.kind, "->" if direction == "out" else "<-", other.id, other.name, edge.source,
                          str(len(edge.evidence)))
        console.print(table)
        if not near:
            console.print("no neighbours", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``carelm kg ...`` to the ``carelm`` command line."""
    from carelm.cli.kg_mine import examples_command, mine_command, relate_command

    kg_app.command("mine")(mine_command)
    kg_app.command("relate")(relate_command)
    kg_app.command("examples")(examples_command)
    app.add_typer(kg_app, name="kg")
