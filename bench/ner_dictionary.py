"""Dictionary NER benchmark: carelm's TermMatcher (``carelm.terms.v1``) on PubTator corpora, entity F1.

Usage:

    .venv/bin/python bench/ner_dictionary.py [--data DIR] [--split devel] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data`` beside the repository):
``ncbi_disease/pubtator/<split>.txt`` and ``bc5cdr/pubtator/<split>.txt``.  A document is its title, one
space and its abstract; gold offsets refer to that text.  Types are mapped to one scheme: every NCBI
disease type (SpecificDisease, DiseaseClass, Modifier, CompositeMention) and BC5CDR ``Disease`` to DISEASE,
BC5CDR ``Chemical`` to CHEMICAL; carelm's PROBLEM and SYMPTOM to DISEASE, DRUG to CHEMICAL (only for BC5CDR,
which annotates chemicals); other carelm types are ignored.

Scores: exact (same start, end and type) and overlap (a prediction is right when it overlaps a gold span of
its type; a gold span is found when a prediction of its type overlaps it) precision, recall and F1, per type
and overall, plus throughput after warm-up.  ``--json`` holds figures only, no text.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

from carelm.extract.terms import TermMatcher

REPO = Path(__file__).resolve().parents[1]
GOLD_TYPES = {
    "SpecificDisease": "DISEASE",
    "DiseaseClass": "DISEASE",
    "Modifier": "DISEASE",
    "CompositeMention": "DISEASE",
    "Disease": "DISEASE",
    "Chemical": "CHEMICAL",
}
PRED_TYPES = {"PROBLEM": "DISEASE", "SYMPTOM": "DISEASE", "DRUG": "CHEMICAL"}
CORPORA = {"ncbi_disease": {"DISEASE"}, "bc5cdr": {"DISEASE", "CHEMICAL"}}

Entity = tuple[int, int, str]


def read_pubtator(path: Path) -> list[tuple[str, set[Entity]]]:
    """(text, gold entities) per document of a PubTator file."""
    docs: list[tuple[str, set[Entity]]] = []
    title, gold = "", set()
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if "|t|" in line[:20]:
            title = line.split("|t|", 1)[1]
        elif "|a|" in line[:20]:
            docs.append((f"{title} {line.split('|a|', 1)[1]}", gold := set()))
        elif line.strip():
            fields = line.split("\t")
            if len(fields) >= 5 and fields[4] in GOLD_TYPES:
                gold.add((int(fields[1]), int(fields[2]), GOLD_TYPES[fields[4]]))
    return docs


def score(gold: list[set[Entity]], pred: list[set[Entity]], kinds: set[str]) -> dict[str, dict[str, float]]:
    """Exact and overlap precision, recall and F1 per type and overall."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for gold_doc, pred_doc in zip(gold, pred, strict=True):
        for kind in [*sorted(kinds), "ALL"]:
            g = {e for e in gold_doc if kind in ("ALL", e[2])}
            p = {e for e in pred_doc if kind in ("ALL", e[2])}
            c = counts[kind]
            c["gold"] += len(g)
            c["pred"] += len(p)
            c["exact"] += len(g & p)
            c["pred_hit"] += sum(any(_overlap(x, y) for y in g) for x in p)
            c["gold_hit"] += sum(any(_overlap(x, y) for y in p) for x in g)
    return {kind: _figures(c) for kind, c in counts.items()}


def _overlap(a: Entity, b: Entity) -> bool:
    return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]


def _figures(c: dict[str, int]) -> dict[str, float]:
    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    exact_p, exact_r = c["exact"] / max(c["pred"], 1), c["exact"] / max(c["gold"], 1)
    over_p, over_r = c["pred_hit"] / max(c["pred"], 1), c["gold_hit"] / max(c["gold"], 1)
    figures = {"gold": c["gold"], "pred": c["pred"], "exact_p": exact_p, "exact_r": exact_r}
    figures |= {"exact_f1": f1(exact_p, exact_r), "overlap_p": over_p, "overlap_r": over_r}
    figures["overlap_f1"] = f1(over_p, over_r)
    return {key: round(value, 4) for key, value in figures.items()}


def run_corpus(matcher: TermMatcher, path: Path, kinds: set[str]) -> dict:
    """Predict every document of one corpus; returns scores and throughput."""
    docs = read_pubtator(path)
    start = time.perf_counter()
    spans = [matcher.find(text) for text, _ in docs]
    seconds = time.perf_counter() - start
    pred = [{(s.start, s.end, PRED_TYPES[s.label]) for s in doc if PRED_TYPES.get(s.label) in kinds} for doc in spans]
    chars = sum(len(text) for text, _ in docs)
    result = {"docs": len(docs), "scores": score([gold for _, gold in docs], pred, kinds)}
    result["throughput"] = {"docs_per_s": round(len(docs) / seconds, 1), "chars_per_s": round(chars / seconds)}
    return result


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", default=default)
    parser.add_argument("--split", default="devel")
    parser.add_argument("--json")
    args = parser.parse_args()
    start = time.perf_counter()
    matcher = TermMatcher()
    matcher.warm_up()
    report = {"warm_up_s": round(time.perf_counter() - start, 2), "corpora": {}}
    for corpus, kinds in CORPORA.items():
        path = Path(args.data) / corpus / "pubtator" / f"{args.split}.txt"
        report["corpora"][corpus] = run_corpus(matcher, path, kinds)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
