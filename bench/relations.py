"""Relation extraction: DDI 2013 drug–drug interactions and BC5CDR chemical-induced disease, MiniLM beside TF-IDF+LR.

Usage:

    .venv/bin/python bench/relations.py [--data DIR] [--task ddi|cid|both] [--epochs 2] [--max-length 128]
        [--batch 16] [--lr 5e-5] [--negatives 1.0] [--limit N] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``):

- ``ddi``: ``ddi_corpus_2013/Train`` (CC BY-NC 4.0, evaluation only), pairs from
  :func:`carelm.kg.relations.ddi_examples` with entity blinding (DRUG1/DRUG2/DRUG0), split 80/20 by document.
  Scored as in the DDI 2013 shared task: micro-F1 over the four types (mechanism, effect, advise, int),
  ``none`` ignored; also macro-F1 over the types and detection F1 (interaction or not).
- ``cid``: ``bc5cdr/pubtator`` train → devel, (chemical, disease) concept pairs from
  :func:`carelm.kg.relations.cid_examples` (document scope, tagged mentions, gold entities).  Scored at pair
  level: F1 of ``CID`` over the devel (document, chemical, disease) relations; a gold pair without a candidate
  counts as missed.

Both train ``carelm.lab.classify.train_classifier`` (packaged MiniLM), early-stopping on a grouped 10% of
train, and compare with TF-IDF (word 1–2-grams) + logistic regression trained on the same texts in this run.
``--negatives F`` keeps a seeded fraction F of the ``none`` training pairs (test sets are never sampled);
``--limit N`` keeps the first N documents of each set (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DDI_TYPES = ("advise", "effect", "int", "mechanism")
REFERENCES = {  # published figures (full test sets, not this split): orientation only
    "ddi": [("DDI 2013 best system (FBK-irst), micro-F1", 0.651), ("target", 0.75)],
    "cid": [("BioCreative V CDR best system (predicted entities), F1", 0.570), ("target", 0.60)],
}


def first_documents(examples: list, limit: int | None) -> list:
    """The examples of the first ``limit`` documents (all when None)."""
    if not limit:
        return examples
    kept: dict[str, None] = {}
    out = []
    for example in examples:
        if example.group not in kept and len(kept) >= limit:
            continue
        kept[example.group] = None
        out.append(example)
    return out


def sample_negatives(examples: list, fraction: float, seed: int) -> list:
    """All positive examples and a seeded ``fraction`` of the ``none`` ones, in input order."""
    if fraction >= 1:
        return examples
    rng = random.Random(seed)
    return [e for e in examples if e.labels[0] != "none" or rng.random() < fraction]


def tfidf_predictions(train: list, test: list) -> tuple[list[str], float]:
    """Labels of ``test`` from TF-IDF + logistic regression fitted on ``train``; and the fit seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, token_pattern=r"[^\s]+")
    model = LogisticRegression(C=10.0, max_iter=2000)
    model.fit(vectoriser.fit_transform([e.text for e in train]), [e.labels[0] for e in train])
    seconds = time.perf_counter() - started
    return list(model.predict(vectoriser.transform([e.text for e in test]))), seconds


def prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def ddi_scores(gold: list[str], predicted: list[str]) -> dict:
    """DDI 2013 figures: micro P/R/F1 over the four types (``none`` ignored), macro-F1 and detection F1."""
    per_type, pooled = {}, [0, 0, 0]
    for kind in DDI_TYPES:
        tp = sum(g == p == kind for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == kind != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == kind != p for g, p in zip(gold, predicted, strict=True))
        per_type[kind] = prf(tp, fp, fn)["f1"]
        pooled = [pooled[0] + tp, pooled[1] + fp, pooled[2] + fn]
    found = [(g != "none", p != "none") for g, p in zip(gold, predicted, strict=True)]
    detection = prf(sum(g and p for g, p in found), sum(p and not g for g, p in found),
                    sum(g and not p for g, p in found))
    return {**prf(*pooled), "macro_f1": round(sum(per_type.values()) / len(DDI_TYPES), 4),
            "detection_f1": detection["f1"], "per_type_f1": per_type}


def cid_scores(gold_pairs: set, examples: list, predicted: list[str]) -> dict:
    """Pair-level P/R/F1 of CID over ``gold_pairs`` (``"<doc>:<chemical>:<disease>"``)."""
    found = {e.id for e, label in zip(examples, predicted, strict=True) if label == "CID"}
    return prf(len(found & gold_pairs), len(found - gold_pairs), len(gold_pairs - found))


def train_minilm(train: list, selection: list, test: list, args, root: Path) -> tuple[list[str], dict]:
    """Fine-tune MiniLM on ``train`` (early stopping on ``selection``); test labels and timings."""
    from carelm.lab.classify import train_classifier
    from carelm.lab.inference import Predictor
    from carelm.lab.trainer import TrainConfig

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                         max_length=args.max_length, seed=args.seed, dev_fraction=0.0, patience=2)
    last = [0.0]

    def progress(step: int, steps: int, loss: float, rate: float) -> None:
        if time.perf_counter() - last[0] > 60 or step == steps:
            last[0] = time.perf_counter()
            print(f"  step {step}/{steps} loss {loss:.4f} {rate:.1f} pairs/s", file=sys.stderr)

    started = time.perf_counter()
    result = train_classifier(train, root, config=config, dev=selection, progress=progress)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    labels = [p["label"] for p in Predictor(result.path).predict([e.text for e in test])]
    test_seconds = time.perf_counter() - started
    return labels, {"train_minutes": round(train_seconds / 60, 2), "steps": result.fit.steps,
                    "epochs_run": result.fit.epochs_run, "best_epoch": result.fit.best_epoch,
                    "test_pairs_per_s": round(len(test) / max(test_seconds, 1e-9), 1)}


def split_train(train: list, args) -> tuple[list, list]:
    from carelm.lab.data import split_examples

    fit, selection = split_examples(train, 0.1, args.seed + 1, groups=lambda e: e.group)
    return sample_negatives(fit, args.negatives, args.seed), selection


def run_ddi(args, scratch: Path) -> dict:
    from carelm.kg.relations import ddi_examples
    from carelm.lab.data import split_examples

    examples = first_documents(list(ddi_examples(args.data / "ddi_corpus_2013" / "Train")), args.limit)
    train, test = split_examples(examples, 0.2, args.seed, groups=lambda e: e.group)
    fit, selection = split_train(train, args)
    gold = [e.labels[0] for e in test]
    report: dict = {"pairs": len(examples), "documents": len({e.group for e in examples}), "train": len(fit),
                    "selection": len(selection), "test": len(test),
                    "test_labels": dict(Counter(gold).most_common())}
    predicted, seconds = tfidf_predictions(fit, test)
    report["tfidf-lr"] = ddi_scores(gold, predicted) | {"train_seconds": round(seconds, 1)}
    print(json.dumps({"ddi tfidf-lr": report["tfidf-lr"]}), file=sys.stderr)
    predicted, timing = train_minilm(fit, selection, test, args, scratch / "ddi")
    report["minilm"] = ddi_scores(gold, predicted) | timing
    return report


def run_cid(args, scratch: Path) -> dict:
    from carelm.kg.relations import cid_examples, cid_gold
    from carelm.lab.data import read_pubtator

    folder = args.data / "bc5cdr" / "pubtator"
    train = first_documents(list(cid_examples(folder / "train.txt")), args.limit)
    test = first_documents(list(cid_examples(folder / "devel.txt")), args.limit)
    documents = read_pubtator(folder / "devel.txt")[: args.limit or None]
    gold = {f"{d.id}:{chemical}:{disease}" for d in documents for chemical, disease in cid_gold(d)}
    fit, selection = split_train(train, args)
    report: dict = {"train": len(fit), "selection": len(selection), "test": len(test), "test_documents":
                    len(documents), "gold_relations": len(gold),
                    "candidate_recall": round(len(gold & {e.id for e in test}) / max(1, len(gold)), 4)}
    predicted, seconds = tfidf_predictions(fit, test)
    report["tfidf-lr"] = cid_scores(gold, test, predicted) | {"train_seconds": round(seconds, 1)}
    print(json.dumps({"cid tfidf-lr": report["tfidf-lr"]}), file=sys.stderr)
    predicted, timing = train_minilm(fit, selection, test, args, scratch / "cid")
    report["minilm"] = cid_scores(gold, test, predicted) | timing
    return report


def print_table(task: str, found: dict) -> None:
    headline = "micro-F1 (4 types)" if task == "ddi" else "CID F1 (pairs)"
    print(f"\n{task.upper()}: {found['test']} test pairs\n")
    print(f"| system | {headline} | precision | recall | other |")
    print("|---|---|---|---|---|")
    for name in ("tfidf-lr", "minilm"):
        row = found[name]
        other = (f"macro-F1 {row['macro_f1']:.3f}, detection F1 {row['detection_f1']:.3f}" if task == "ddi"
                 else f"candidate recall {found['candidate_recall']:.3f}")
        if "train_minutes" in row:
            other += f", {row['train_minutes']} min training, {row['epochs_run']} epoch(s)"
        print(f"| {name} | {row['f1']:.3f} | {row['precision']:.3f} | {row['recall']:.3f} | {other} |")
    for name, value in REFERENCES[task]:
        print(f"| {name} | {value:.3f} | | | published / goal |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--task", choices=("ddi", "cid", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--negatives", type=float, default=1.0, help="fraction of 'none' training pairs kept")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, help="first N documents of each set only (a smoke run)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not 0 < args.negatives <= 1:
        parser.error("--negatives must be in (0, 1]")
    report: dict = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    tasks = ("ddi", "cid") if args.task == "both" else (args.task,)
    with tempfile.TemporaryDirectory(prefix="carelm-relations-bench-") as scratch:
        for task in tasks:
            report[task] = (run_ddi if task == "ddi" else run_cid)(args, Path(scratch))
    print(json.dumps(report, indent=2))
    for task in tasks:
        print_table(task, report[task])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
