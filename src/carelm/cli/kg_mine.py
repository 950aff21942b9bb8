"""``carelm kg mine``: mine disease–symptom, drug–disease and drug–drug co-occurrence edges from abstracts.

A thin wrapper over :func:`carelm.kg.mining.mine`; register it on the ``kg`` group as
``kg_app.command("mine")(mine_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import console, handle_errors, progress_display
from carelm.core.logging import configure_logging
from carelm.core.settings import get_settings


@handle_errors
def mine_command(
    path: Annotated[Path, typer.Argument(help="Abstracts: JSONL ({_id|id|pmid, title, abstract|text}), PubTator, "
                                              "or PubMedQA .json.")],
    out: Annotated[Path, typer.Option("--out", help="The graph JSONL file to write (.gz compresses).")],
    licence: Annotated[str, typer.Option("--licence", help="The corpus licence, written on every node and edge "
                                                           "(e.g. CC-BY-4.0).")],
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Least documents a pair must share.")] = 2,
    max_p: Annotated[float, typer.Option("--max-p", min=0.0, max=1.0,
                                         help="Keep pairs whose one-sided Fisher p-value is below this.")] = 0.05,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Mine only the first N abstracts.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Source name on the edges; default "
                                                                "mined:<corpus name>.", show_default=False)] = None,
) -> None:
    """Mine co-occurrence edges (Fisher's exact test) from article abstracts into a graph JSONL file.

    Edges join present disease, symptom and drug terms shared by at least --min-count abstracts with p < --max-p.
    """
    configure_logging(get_settings().log_level)
    from carelm.kg.mining import mine

    with progress_display() as progress:
        task = progress.add_task("mining", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        counts = mine(path, out, licence, min_count=min_count, limit=limit, progress=advance, max_p=max_p,
                      source=source)
    by_relation = ", ".join(f"{relation} {count}" for relation, count in counts["edges_by_relation"].items())
    console.print(f"mined {counts['documents']} abstract(s) ({counts['failed']} failed) in {counts['seconds']} s: "
                  f"{counts['nodes']} nodes, {counts['edges']} edges ({by_relation}; {counts['links']} concept "
                  f"links) -> {counts['out']}")
