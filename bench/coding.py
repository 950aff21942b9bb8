"""ICD-10-CM coding benchmark: held-out inclusion terms as queries, descriptions only as the target.

Usage:

    .venv/bin/python bench/coding.py [--sample 2000] [--seed 0] [--index DIR] [--rebuild] [--json OUT]

ICD-10-CM inclusion terms are held out: the dictionary is built without them and the vector index
(``--index``, default ``bench/out/icd10-descriptions``, built on first use) holds only the descriptions of
every billable code and category.  Queries are one inclusion term each of ``--sample`` billable codes drawn
with ``--seed``; the gold answer is that code.  Scores:

* ``embedding``: top-1 and top-5 accuracy of the MiniLM nearest codes, plus top-5 at category level
  (some candidate shares the gold code's three-character category);
* ``dictionary``: share of queries the held-out dictionary answers, and its accuracy on those;
* ``combined``: what ``carelm.icd10.v1`` ranks (dictionary match first, then embedding neighbours).

Timings: index build (when built), query encoding and search, per query.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from carelm.coding.icd10 import Candidate, normalise, rank, synonym_dictionary
from carelm.coding.index import IcdIndex, build_index

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INDEX = REPO / "bench" / "out" / "icd10-descriptions"


def held_out_queries(sample: int, seed: int) -> list[tuple[str, str]]:
    """``(inclusion term, billable code)`` pairs: one random term each of ``sample`` random billable codes."""
    import simple_icd_10_cm as icd

    pool = [code for code in icd.get_all_codes(True) if icd.is_leaf(code) and icd.get_inclusion_term(code)]
    rng = random.Random(seed)
    codes = sorted(rng.sample(pool, min(sample, len(pool))))
    return [(rng.choice(icd.get_inclusion_term(code)), code) for code in codes]


def ensure_index(path: Path, rebuild: bool) -> tuple[IcdIndex, float | None]:
    """The descriptions-only index at ``path``, built when missing (or ``rebuild``); and the build seconds."""
    seconds = None
    if rebuild or not IcdIndex.exists(path):
        started = time.perf_counter()
        done = [0]

        def progress(count: int) -> None:
            if count - done[0] >= 10_000:
                done[0] = count
                print(f"  embedded {count} rows", file=sys.stderr)

        build_index(path, progress=progress, inclusion_terms=False)
        seconds = time.perf_counter() - started
    index = IcdIndex.load(path)
    if index.manifest.get("inclusion_terms"):
        raise SystemExit(f"{path} holds inclusion terms; use --rebuild or another --index")
    return index, seconds


def accuracy(hits: list[list[str]], gold: list[str], k: int) -> float:
    """Share of queries whose gold code is among the first ``k`` candidates."""
    return sum(code in found[:k] for found, code in zip(hits, gold, strict=True)) / len(gold)


def evaluate(index: IcdIndex, queries: list[tuple[str, str]]) -> dict:
    """Embedding, dictionary and combined scores of ``queries`` against ``index``."""
    texts, gold = [text for text, _ in queries], [code for _, code in queries]
    started = time.perf_counter()
    neighbours = index.search(texts, k=5)
    search_seconds = time.perf_counter() - started
    dictionary = synonym_dictionary(inclusion_terms=False)
    matched = [dictionary.get(normalise(text)) for text in texts]
    combined = []
    for found, hits in zip(matched, neighbours, strict=True):
        candidates = [Candidate(code, score, "embedding") for code, score in hits]
        candidates += [Candidate(found, 0.95, "synonym")] if found else []
        combined.append([candidate.code for candidate in rank(candidates, 5)])
    embedding = [[code for code, _ in hits] for hits in neighbours]
    answered = [(found, code) for found, code in zip(matched, gold, strict=True) if found]
    return {
        "queries": len(queries),
        "embedding": {
            "top1": round(accuracy(embedding, gold, 1), 4),
            "top5": round(accuracy(embedding, gold, 5), 4),
            "top5_category": round(
                sum(code[:3] in {c[:3] for c in found} for found, code in zip(embedding, gold, strict=True))
                / len(gold),
                4,
            ),
        },
        "dictionary": {
            "answered": round(len(answered) / len(gold), 4),
            "accuracy_when_answered": round(sum(a == b for a, b in answered) / len(answered), 4) if answered else None,
        },
        "combined": {"top1": round(accuracy(combined, gold, 1), 4), "top5": round(accuracy(combined, gold, 5), 4)},
        "search_seconds": round(search_seconds, 2),
        "ms_per_query": round(1000 * search_seconds / len(queries), 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (or write with ``--json``) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    index, build_seconds = ensure_index(args.index, args.rebuild)
    report = evaluate(index, held_out_queries(args.sample, args.seed))
    report["index_rows"] = len(index)
    report["index_codes"] = index.manifest["codes"]
    report["build_seconds"] = round(build_seconds, 1) if build_seconds is not None else None
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
