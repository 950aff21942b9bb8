"""Literature mining on SciFact and BC5CDR abstracts: edges by relation, top pairs, time, and agreement with
the curated default graph for raw co-occurrence beside the Fisher-filtered edges.

Usage:

    .venv/bin/python bench/mining.py [--data DIR] [--corpus scifact|bc5cdr|both] [--limit N] [--min-count 2]
        [--max-p 0.05] [--top 5] [--out-dir DIR] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``): ``scifact/corpus.jsonl`` (CC BY 4.0)
and ``bc5cdr/pubtator/train.txt`` + ``devel.txt`` (CC BY 4.0).  For each corpus:
:func:`carelm.kg.mining.count_cooccurrence` then :func:`carelm.kg.mining.mined_graph`.  The baseline is raw
co-occurrence (every pair in at least ``--min-count`` documents, no test).  Both are checked against the
shipped default graph (Hetionet + DDXPlus): a drug–disease pair agrees when the graph has a ``treats`` or
``palliates`` edge between nodes of those names (or concepts), a disease–symptom pair when it has ``presents``.
That agreement is a lower bound on precision (the curated graph is far from complete), useful for comparing
the two, not as an absolute figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = {"scifact": (["scifact/corpus.jsonl"], "CC-BY-4.0"),
           "bc5cdr": (["bc5cdr/pubtator/train.txt", "bc5cdr/pubtator/devel.txt"], "CC-BY-4.0")}
CURATED = {"drug-disease": ("treats", "palliates"), "disease-symptom": ("presents",)}


def curated_ids(graph, term, kind: str) -> set[str]:
    """Nodes of ``kind`` in the curated graph for a mined term: by concept id, by ICD-10 code, or by name."""
    found: set[str] = set()
    for concept in term.concepts:
        if concept in graph and graph.node(concept).kind == kind:
            found.add(concept)
        code = f"ICD10::{concept}"
        if code in graph:
            found.update(e.source_id for e in graph.in_edges(code, "maps_to") if graph.node(e.source_id).kind == kind)
    for name in (*term.names, *term.surfaces):
        found.update(node.id for node in graph.find(name, [kind]))
    return found


def agrees(graph, relation: str, x_ids: set[str], y_ids: set[str]) -> bool:
    """Whether the curated graph links a node of ``x_ids`` and one of ``y_ids`` by an edge the relation names."""
    kinds = CURATED.get(relation, ())
    return any(edge.kind in kinds and edge.target_id in y_ids for x in x_ids for edge in graph.out_edges(x))


def evaluate(counts, nodes, edges, graph, min_count: int, top: int) -> dict:
    from carelm.kg.mining import NODE_KINDS, RELATIONS

    resolved: dict = {}

    def ids(term_key):
        if term_key not in resolved:
            resolved[term_key] = curated_ids(graph, counts.terms[term_key], NODE_KINDS[term_key[0]])
        return resolved[term_key]

    kept = {(e.source_id, e.target_id) for e in edges if e.kind == "cooccurs"}
    node_of = {(n.attributes["mention_type"], n.attributes["key"]): n.id for n in nodes}
    out: dict = {}
    for relation in RELATIONS:
        raw = [(x, y) for (r, x, y), pair in counts.pairs.items() if r == relation and pair.documents >= min_count]
        mined = [(x, y) for x, y in raw if (node_of.get(x), node_of.get(y)) in kept]
        row = {"raw_pairs": len(raw), "mined_edges": len(mined)}
        if relation in CURATED:
            row["raw_agree"] = sum(agrees(graph, relation, ids(x), ids(y)) for x, y in raw)
            row["mined_agree"] = sum(agrees(graph, relation, ids(x), ids(y)) for x, y in mined)
        ranked = sorted((e for e in edges if e.attributes.get("relation") == relation),
                        key=lambda e: (e.attributes["p_value"], -e.attributes["documents"]))
        row["top"] = [{"pair": f"{e.source_id.split(':')[-1]} — {e.target_id.split(':')[-1]}",
                       "documents": e.attributes["documents"], "expected": e.attributes["expected"],
                       "p_value": e.attributes["p_value"], "npmi": e.weight} for e in ranked[:top]]
        out[relation] = row
    return out


def run_corpus(name: str, args, graph) -> dict:
    from carelm.kg.mining import count_cooccurrence, default_pipeline, mined_graph, read_abstracts, write_graph_jsonl

    files, licence = CORPORA[name]
    abstracts = [a for file in files for a in read_abstracts(args.data / file)]
    abstracts = list(islice(abstracts, args.limit))
    pipeline = default_pipeline()
    pipeline.warm_up()  # loading the terminology is not part of the mining time
    started = time.perf_counter()
    counts = count_cooccurrence(abstracts, pipeline)
    seconds = time.perf_counter() - started
    nodes, edges = mined_graph(counts, min_count=args.min_count, max_p=args.max_p, licence=licence,
                               source=f"mined:{name}")
    if args.out_dir:
        write_graph_jsonl(nodes, edges, args.out_dir / f"mined-{name}.jsonl", {"source": f"mined:{name}"})
    report = {"abstracts": counts.documents, "failed": counts.failed, "terms": len(counts.terms),
              "pairs": len(counts.pairs), "nodes": len(nodes), "edges": len(edges),
              "seconds": round(seconds, 1), "abstracts_per_s": round(counts.documents / max(seconds, 1e-9), 1)}
    report["relations"] = evaluate(counts, nodes, edges, graph, args.min_count, args.top)
    return report


def print_tables(report: dict) -> None:
    for name, found in report["corpora"].items():
        print(f"\n{name}: {found['abstracts']} abstracts in {found['seconds']} s ({found['abstracts_per_s']}/s), "
              f"{found['terms']} terms, {found['nodes']} nodes, {found['edges']} edges (with links)\n")
        print("| relation | raw pairs (≥ min count) | agree w/ curated | mined edges (Fisher) | agree w/ curated |")
        print("|---|---|---|---|---|")
        for relation, row in found["relations"].items():
            raw_agree = row.get("raw_agree", "n/a")
            mined_agree = row.get("mined_agree", "n/a")
            print(f"| {relation} | {row['raw_pairs']} | {raw_agree} | {row['mined_edges']} | {mined_agree} |")
        for relation, row in found["relations"].items():
            if row["top"]:
                print(f"\ntop {relation} pairs (by p-value):\n")
                print("| pair | documents | expected | p | NPMI |")
                print("|---|---|---|---|---|")
                for top in row["top"]:
                    print(f"| {top['pair']} | {top['documents']} | {top['expected']:.2f} | {top['p_value']:.2e} | "
                          f"{top['npmi']:.3f} |")


def main(argv: list[str] | None = None) -> None:
    from carelm.kg.build import default_graph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--corpus", choices=("scifact", "bc5cdr", "both"), default="both")
    parser.add_argument("--limit", type=int, help="first N abstracts of each corpus")
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--max-p", type=float, default=0.05)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, help="also write mined-<corpus>.jsonl files here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    graph = default_graph()
    names = ("scifact", "bc5cdr") if args.corpus == "both" else (args.corpus,)
    report: dict = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                    "corpora": {}}
    for name in names:
        report["corpora"][name] = run_corpus(name, args, graph)
        print(json.dumps({name: {k: v for k, v in report["corpora"][name].items() if k != "relations"}}),
              file=sys.stderr)
    print(json.dumps(report, indent=2))
    print_tables(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
