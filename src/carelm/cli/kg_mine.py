"""``carelm kg mine``: mine disease–symptom, drug–disease and drug–drug co-occurrence edges from abstracts.

Also ``carelm kg relate`` (relation edges from a trained classifier, :mod:`carelm.kg.relate`) and ``carelm kg
examples`` (training examples for it).  Thin wrappers; ``carelm.cli.kg.register`` adds them to the ``kg`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import DbOption, console, handle_errors, make_context, progress_display
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


@handle_errors
def relate_command(
    model: Annotated[str, typer.Argument(help="A relation classifier (carelm train classify on the output of "
                                              "carelm kg examples): registered name[:version] or model folder.")],
    path: Annotated[Path, typer.Argument(help="Abstracts: JSONL, PubTator, or PubMedQA .json, as for kg mine.")],
    out: Annotated[Path, typer.Option("--out", help="The graph JSONL file to write (.gz compresses).")],
    licence: Annotated[str, typer.Option("--licence", help="The licence of the corpus and the model's training "
                                                           "data, written on every node and edge.")],
    relation: Annotated[str, typer.Option("--relation", help="cid (chemical induces disease) or ddi "
                                                             "(drug-drug interaction).")] = "cid",
    min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0,
                                             help="Least probability of an accepted relation.")] = 0.5,
    marking: Annotated[str | None, typer.Option("--marking", help="tags or blind, as the model's training "
                                                                  "examples; default: that of kg examples.",
                                                show_default=False)] = None,
    backend: Annotated[str, typer.Option("--backend", help="torch, onnx or onnx-int8.")] = "torch",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Read only the first N abstracts.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Source name on the edges; default "
                                                                "mined:<corpus>:<relation>.",
                                               show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Mine relation edges from abstracts with a trained classifier: each edge carries its sentences and scores."""
    configure_logging(get_settings().log_level)
    from carelm.kg.relate import relate

    folder = Path(model)
    if not folder.is_dir():  # a registered name: look it up in the store
        from carelm.service.lab import resolve_model

        ctx = make_context(db)
        try:
            folder = resolve_model(ctx, model).path
        finally:
            ctx.close()

    with progress_display() as progress:
        task = progress.add_task(f"relating ({relation})", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        counts = relate(path, folder, out, kind=relation, licence=licence, source=source, marking=marking,
                        min_score=min_score, limit=limit, backend=backend, progress=advance)
    console.print(f"read {counts['documents']} abstract(s) ({counts['failed']} failed) in {counts['seconds']} s: "
                  f"{counts['candidates']} candidate pair(s), {counts['accepted']} accepted -> {counts['edges']} "
                  f"{relation} edge(s), {counts['nodes']} nodes, {counts['links']} concept links -> {counts['out']}")


@handle_errors
def examples_command(
    relation: Annotated[str, typer.Argument(help="ddi (DDI 2013 XML folder) or cid (BC5CDR PubTator file).")],
    path: Annotated[Path, typer.Argument(help="The annotated corpus.")],
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write ({id, text, label, group}).")],
    marking: Annotated[str | None, typer.Option("--marking", help="tags or blind; default blind for ddi, tags for "
                                                                  "cid.", show_default=False)] = None,
) -> None:
    """Write relation-classification examples from an annotated corpus, for carelm train classify."""
    import json
    import os

    from carelm.core.errors import ConfigError
    from carelm.kg.relate import KINDS
    from carelm.kg.relations import cid_examples, ddi_examples

    if relation not in KINDS:
        raise ConfigError(f"unknown relation {relation!r}; choose one of {', '.join(KINDS)}")
    marking = marking or KINDS[relation].marking
    examples = ddi_examples(path, marking) if relation == "ddi" else cid_examples(path, marking)
    labels: dict[str, int] = {}
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("w", encoding="utf-8") as handle:
        for example in examples:
            labels[example.labels[0]] = labels.get(example.labels[0], 0) + 1
            handle.write(json.dumps({"id": example.id, "text": example.text, "label": example.labels[0],
                                     "group": example.group}, ensure_ascii=False) + "\n")
    os.replace(partial, out)
    counted = ", ".join(f"{label} {count}" for label, count in sorted(labels.items()))
    console.print(f"wrote {sum(labels.values())} example(s) ({counted or 'none'}) -> {out}")
