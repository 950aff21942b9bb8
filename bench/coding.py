"""ICD-10-CM coding benchmark: held-out inclusion terms as queries, descriptions only as the target.

Usage:

    .venv/bin/python bench/coding.py [--sample 2000] [--seed 0] [--epochs 1] [--rebuild] [--json OUT]

Queries are one ICD-10-CM inclusion term each of ``--sample`` billable codes drawn with ``--seed``; the gold
answer is that code.  Every synonym is held out of what is searched: the dictionary and the vector indexes
hold only the descriptions of the billable codes.  Two encoders are measured in the same run:

* ``minilm``: the packaged MiniLM, as shipped (the baseline);
* ``tuned``: MiniLM tuned by ``carelm.coding.tune`` on the code set's synonym pairs *less* every pair of a
  query's code and every pair whose name is a query (inclusion terms, includes and excludes-note references
  of the other codes), so no query and no synonym of a gold code is ever learnt.  This is what ``carelm
  resources build --index`` does with all pairs.

For each: top-1 and top-5 accuracy of the nearest codes, top-5 at category level (some candidate shares
the gold code's three-character category), and ``combined``: what ``carelm.icd10.v1`` ranks (dictionary
match first, then embedding neighbours).  Indexes and the tuned encoder are cached in ``bench/out/`` under
names carrying the seed, sample and epochs (``--rebuild`` redoes them).  Timings: tuning, index builds,
query encoding and search.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from carelm.coding.codeset import synonym_pairs
from carelm.coding.icd10 import Candidate, normalise, rank, synonym_dictionary
from carelm.coding.index import IcdIndex, build_index
from carelm.coding.tune import tune_encoder

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"


def held_out_queries(sample: int, seed: int) -> list[tuple[str, str]]:
    """``(inclusion term, billable code)`` pairs: one random term each of ``sample`` random billable codes."""
    import simple_icd_10_cm as icd

    pool = [code for code in icd.get_all_codes(True) if icd.is_leaf(code) and icd.get_inclusion_term(code)]
    rng = random.Random(seed)
    codes = sorted(rng.sample(pool, min(sample, len(pool))))
    return [(rng.choice(icd.get_inclusion_term(code)), code) for code in codes]


def _report_progress(label: str, every: int) -> Callable[..., None]:
    done = [0]

    def progress(count: int, *rest: object) -> None:
        if count - done[0] >= every:
            done[0] = count
            print(f"  {label} {count}" + (f" of {rest[0]}, loss {rest[1]:.3f}" if rest else ""), file=sys.stderr)

    return progress


def ensure_tuned(path: Path, queries: list[tuple[str, str]], epochs: int, seed: int, rebuild: bool) -> float | None:
    """Tune MiniLM into ``path`` on the synonym pairs less the queries and their codes; the seconds it took."""
    if not rebuild and (path / "tune.json").is_file():
        return None
    pairs = synonym_pairs(held_out_codes={code for _, code in queries}, held_out_texts=[text for text, _ in queries])
    print(f"tuning on {len(pairs)} pairs", file=sys.stderr)
    started = time.perf_counter()
    tune_encoder(path, pairs, epochs=epochs, seed=seed, progress=_report_progress("step", 50))
    return time.perf_counter() - started


def ensure_index(path: Path, rebuild: bool, encoder: Path | None = None) -> tuple[IcdIndex, float | None]:
    """The descriptions-only index at ``path``, built when missing (or ``rebuild``); and the build seconds."""
    seconds = None
    if rebuild or not IcdIndex.exists(path):
        started = time.perf_counter()
        build_index(path, progress=_report_progress("embedded", 10_000), inclusion_terms=False, encoder=encoder)
        seconds = time.perf_counter() - started
    index = IcdIndex.load(path)
    if index.manifest.get("inclusion_terms"):
        raise SystemExit(f"{path} holds inclusion terms; use --rebuild")
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
    parser.add_argument("--epochs", type=int, default=1, help="tuning epochs (default 1)")
    parser.add_argument("--rebuild", action="store_true", help="tune and embed again even when cached")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    queries = held_out_queries(args.sample, args.seed)
    report: dict = {"queries": len(queries), "seed": args.seed}
    base, base_seconds = ensure_index(OUT / "icd10-descriptions-minilm", args.rebuild)
    report["minilm"] = evaluate(base, queries) | {"build_seconds": _round(base_seconds)}
    tuned_dir = OUT / f"icd10-tuned-heldout-s{args.seed}-n{args.sample}-e{args.epochs}"
    tune_seconds = ensure_tuned(tuned_dir / "model", queries, args.epochs, args.seed, args.rebuild)
    tuned, tuned_seconds = ensure_index(
        tuned_dir / "index", args.rebuild or tune_seconds is not None, tuned_dir / "model"
    )
    report["tuned"] = evaluate(tuned, queries) | {
        "build_seconds": _round(tuned_seconds),
        "tune_seconds": _round(tune_seconds),
        "tuning": tuned.manifest.get("tuning"),
    }
    report["index_rows"] = len(base)
    report["index_codes"] = base.manifest["codes"]
    text = json.dumps(report, indent=2)
    print(text)
    print_table(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")


def _round(seconds: float | None) -> float | None:
    return round(seconds, 1) if seconds is not None else None


def print_table(report: dict) -> None:
    """A Markdown table of the two encoders."""
    print(f"\n{report['queries']} held-out inclusion terms, {report['index_codes']} billable codes\n")
    print("| encoder | top-1 | top-5 | top-5 category | combined top-1 | combined top-5 | ms/query |")
    print("|---|---|---|---|---|---|---|")
    for name in ("minilm", "tuned"):
        found = report[name]
        embedding, combined = found["embedding"], found["combined"]
        print(
            f"| {name} | {embedding['top1']:.3f} | {embedding['top5']:.3f} | {embedding['top5_category']:.3f} | "
            f"{combined['top1']:.3f} | {combined['top5']:.3f} | {found['ms_per_query']} |"
        )


if __name__ == "__main__":
    main()
