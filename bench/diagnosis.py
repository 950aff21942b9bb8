"""Differential diagnosis benchmark: MTSamples notes with their assessment hidden.

Usage:

    OMP_NUM_THREADS=1 .venv/bin/python bench/diagnosis.py [--shared-data DIR] [--graph FILE] [--limit N] [--json OUT]

From ``mtsamples/dev.jsonl`` (``--shared-data``, default ``$CARELM_SHARED_DATA`` or ``../shared/data``) every
note with an ASSESSMENT, IMPRESSION or DIAGNOSIS/DIAGNOSES section (any header naming one of them, e.g.
``ASSESSMENT AND PLAN``, ``DISCHARGE DIAGNOSES``, ``PREOPERATIVE DIAGNOSIS``; not ``DIAGNOSTIC STUDIES``) is
split in two: the hidden part (those sections) and the rest.  Findings are read from the rest with
``carelm.kg.reasoning.findings_from_text`` and ranked by ``differential`` on the default graph (or ``--graph``).
The gold answers are the asserted PROBLEM mentions of the hidden part mapped to diseases the differential can
rank (those with ``presents`` or ``risk_factor`` edges): by name or synonym, or by sharing a three-character
ICD-10 category with the disease's code.  Top-1 and top-5 hit rates are over the notes with at least one gold
disease ("qualified").

The diseases with findings in the default graph are DDXPlus's 49 conditions (mostly respiratory, cardiac and
infectious presentations of an emergency or primary-care visit), so only a small share of MTSamples notes,
many of them operative reports, qualify, and the figures say little about conditions outside that set.

Baselines in the same run: ``overlap`` ranks diseases by how many reported findings they are linked to (no
weights, no denials); ``majority`` always answers the five most frequent gold diseases of the qualified notes
(it sees the answers, so it is an optimistic constant guess).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

from carelm.core.types import Note
from carelm.kg.graph import KnowledgeGraph
from carelm.kg.matching import match_diseases
from carelm.kg.reasoning import (
    differential,
    finding_model,
    findings_from_mentions,
    match_findings,
    text_pipeline,
)

REPO = Path(__file__).resolve().parents[1]
HEADER = re.compile(r"(?m)^[ \t]*([A-Z][A-Z0-9 &/,()'-]{2,60}?)[ \t]*:")
HIDDEN = re.compile(r"ASSESSMENT|IMPRESSION|DIAGNOS[EI]S\b")
ICD_CODE = re.compile(r"^[A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
GOLD_IGNORED = ("negated", "hypothetical", "family", "historical")


def split_note(text: str) -> tuple[str, str] | None:
    """(visible text, hidden assessment/impression/diagnosis text), or None when the note has no such section."""
    headers = list(HEADER.finditer(text))
    visible, hidden = [], []
    cursor = 0
    for index, match in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        if HIDDEN.search(match.group(1)):
            visible.append(text[cursor:match.start()])
            hidden.append(text[match.start():end])
            cursor = end
    if not hidden:
        return None
    visible.append(text[cursor:])
    return "".join(visible), "\n".join(hidden)


def disease_categories(graph: KnowledgeGraph, diseases: list[str]) -> dict[str, set[str]]:
    """Three-character ICD-10 categories of each modelled disease (maps_to edges and ``icd10`` attributes)."""
    categories: dict[str, set[str]] = {}
    for disease in diseases:
        codes = [e.target_id.split("::")[-1] for e in graph.out_edges(disease, "maps_to")]
        value = graph.node(disease).attributes.get("icd10") or []
        codes += value if isinstance(value, list) else [value]
        categories[disease] = {code[:3].upper() for code in codes if code}
    return categories


def gold_diseases(graph: KnowledgeGraph, note: Note, modelled: set[str], categories: dict[str, set[str]]) -> set[str]:
    """Modelled diseases named, or coded in the same ICD-10 category, by the hidden part's asserted problems."""
    gold: set[str] = set()
    for mention in note.layer("mentions"):
        flags = mention.attributes
        if mention.label != "PROBLEM" or any(flags.get(flag) for flag in GOLD_IGNORED):
            continue
        for name in {flags.get("term"), note.text[mention.start:mention.end]} - {None}:
            gold |= {node.id for node in match_diseases(graph, name) if node.id in modelled}
        concept = str(flags.get("concept") or "")
        if ICD_CODE.match(concept):
            gold |= {d for d, cats in categories.items() if concept[:3] in cats}
    return gold


def overlap_ranking(graph: KnowledgeGraph, findings: list[str]) -> list[str]:
    """Baseline: diseases by the number of reported findings linked to them, then by name."""
    present, _ = match_findings(graph, findings)
    model = finding_model(graph)
    counts = {d: sum(any(n in links for n in ids) for ids in present.values()) for d, links in model.items()}
    ranked = [d for d in counts if counts[d] > 0]
    return sorted(ranked, key=lambda d: (-counts[d], graph.node(d).name))


def load_graph(path: str | None) -> tuple[KnowledgeGraph, str]:
    if path:
        from carelm.kg.graphfile import read_graph

        return read_graph(path), path
    from carelm.kg.build import DEFAULT_GRAPH, default_graph

    return default_graph(), str(DEFAULT_GRAPH.relative_to(REPO))


def run_notes(texts: list[str], batch: int = 32) -> list[Note]:
    """The notes of ``texts`` after the text stages of the extraction pipeline."""
    pipeline = text_pipeline()
    notes = [Note(text=text, id=str(i)) for i, text in enumerate(texts)]
    for start in range(0, len(notes), batch):
        result = pipeline.run(notes[start:start + batch])
        for failed, _ in result.failed:
            failed.layers["mentions"] = []
    return notes


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared-data", default=os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" /
                                                                                           "data")))
    parser.add_argument("--graph", help="graph JSONL(.gz); default: the shipped default graph")
    parser.add_argument("--limit", type=int, default=None, help="only the first N notes of the file")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    graph, graph_name = load_graph(args.graph)
    modelled = set(finding_model(graph))
    categories = disease_categories(graph, sorted(modelled))
    lines = Path(args.shared_data, "mtsamples", "dev.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line)["transcription"] for line in lines[:args.limit] if line.strip()]
    splits = [s for s in (split_note(text) for text in records) if s is not None]
    print(f"{len(records)} notes, {len(splits)} with an assessment/impression/diagnosis section; "
          f"graph {graph_name}: {len(modelled)} diseases with findings", file=sys.stderr)

    started = time.perf_counter()
    visible = run_notes([v for v, _ in splits])
    hidden = run_notes([h for _, h in splits])
    extract_seconds = time.perf_counter() - started

    qualified = []
    for seen, secret in zip(visible, hidden, strict=True):
        gold = gold_diseases(graph, secret, modelled, categories)
        if gold:
            qualified.append((findings_from_mentions(seen.layer("mentions"), seen.text), gold))

    started = time.perf_counter()
    ranked = [[s.node_id for s in differential(graph, f.findings, f.absent, top_k=5)] for f, _ in qualified]
    reason_seconds = time.perf_counter() - started
    overlap = [overlap_ranking(graph, f.findings)[:5] for f, _ in qualified]
    frequent = [d for d, _ in Counter(d for _, gold in qualified for d in gold).most_common(5)]
    golds = [gold for _, gold in qualified]

    def hits(rankings: list[list[str]], k: int) -> float:
        return round(sum(bool(set(r[:k]) & g) for r, g in zip(rankings, golds, strict=True)) / max(len(golds), 1), 4)

    report = {
        "graph": graph_name, "notes": len(records), "with_hidden_section": len(splits),
        "qualified": len(qualified),
        "qualified_with_a_matched_finding": sum(bool(match_findings(graph, f.findings)[0]) for f, _ in qualified),
        "gold_diseases": dict(Counter(graph.node(d).name for g in golds for d in g).most_common()),
        **{f"top{k}": {"naive_bayes": hits(ranked, k), "overlap": hits(overlap, k),
                       "majority": hits([frequent] * len(golds), k)} for k in (1, 5)},
        "seconds": {"extraction": round(extract_seconds, 2), "differential_per_note": round(
            reason_seconds / max(len(qualified), 1), 5)},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
