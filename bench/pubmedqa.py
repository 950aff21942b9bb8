"""PubMedQA PQA-L yes/no/maybe: stratified, seeded k-fold cross-validation beside the majority class.

Usage:

    .venv/bin/python bench/pubmedqa.py [--data DIR] [--folds 10] [--seeds 0,1,2] [--c 0.01] [--limit N]
        [--cache FILE.npz] [--save-model PATH] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``): ``pubmedqa/dev.json`` (500 questions,
MIT licence), keyed by PMID with ``QUESTION``, ``CONTEXTS`` and ``final_decision``.  ``LONG_ANSWER`` (the
abstract's conclusion) is never read: it states the answer.

Systems, each scored on the same folds (accuracy and macro-F1, mean over the seeds):

- ``majority``: the most frequent answer of the training folds;
- ``tfidf``: TF-IDF word 1–2-grams of question + results, logistic regression;
- ``cues``: the cue and question-shape features only (no sentence similarities);
- ``carelm``: the shipped approach, all features of :mod:`carelm.generate.qa_closed_features` (cues weighted by
  MiniLM question–sentence similarity), logistic regression with ``C = --c``;
- ``carelm+vectors``: the same plus the MiniLM vectors of the question and of the results (384 + 384).

``--save-model PATH`` then fits ``carelm`` on all the questions and writes the model file that ships as
``src/carelm/resources/qa/closed_pubmedqa.json``.  ``--cache`` keeps the features (MiniLM is the slow part).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from carelm.generate import closed  # noqa: E402
from carelm.generate.qa_closed_features import FEATURE_NAMES, QUESTION_CUES  # noqa: E402
from carelm.generate.qa_text import embed  # noqa: E402

REFERENCES = [("PubMedQA 2019 best model (BioBERT, multi-phase, reasoning-required)", 0.681),
              ("single human (reasoning-required)", 0.780), ("target", 0.65)]


def data_dir(given: str | None) -> Path:
    return Path(given or os.environ.get("CARELM_SHARED_DATA") or REPO.parent / "shared" / "data")


def load_items(path: Path, limit: int | None) -> list[dict]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = [{"id": pmid, "question": e["QUESTION"], "contexts": e["CONTEXTS"], "answer": e["final_decision"]}
             for pmid, e in raw.items()]
    return items[:limit] if limit else items


def feature_matrix(items: list[dict], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """carelm features and MiniLM question/results vectors, from ``cache`` when it matches."""
    ids = [it["id"] for it in items]
    if cache and cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["ids"]) == ids and list(stored["names"]) == list(FEATURE_NAMES):
            return stored["rows"], stored["vectors"]
    rows, _ = closed.featurise(items)
    vectors = embed([it["question"] for it in items] + [it["contexts"][-1] for it in items])
    vectors = np.hstack([vectors[: len(items)], vectors[len(items) :]])
    if cache:
        np.savez(cache, ids=np.array(ids), names=np.array(FEATURE_NAMES), rows=rows, vectors=vectors)
    return rows, vectors


def cross_validate(predict, y: np.ndarray, folds: int, seeds: list[int]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    accuracies, f1s = [], []
    for seed in seeds:
        predicted = np.empty(len(y), dtype=object)
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
            predicted[test] = predict(train, test)
        accuracies.append(accuracy_score(y, predicted))
        f1s.append(f1_score(y, predicted, average="macro", labels=list(closed.LABELS)))
    return {"accuracy": float(np.mean(accuracies)), "accuracy_sd": float(np.std(accuracies)),
            "macro_f1": float(np.mean(f1s))}


def systems(items: list[dict], rows: np.ndarray, vectors: np.ndarray, y: np.ndarray, c: float) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [it["question"] + " \n " + it["contexts"][-1] for it in items]
    cue_columns = [i for i, n in enumerate(FEATURE_NAMES) if n.startswith("results_") or n in QUESTION_CUES]

    def majority(train, test):
        values, counts = np.unique(y[train], return_counts=True)
        return np.array([values[np.argmax(counts)]] * len(test), dtype=object)

    def tfidf(train, test):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        x = vectorizer.fit_transform([texts[i] for i in train])
        model = LogisticRegression(C=10.0, max_iter=5000).fit(x, y[train])
        return model.predict(vectorizer.transform([texts[i] for i in test]))

    def linear(matrix, strength):
        def predict(train, test):
            model = closed.fit(matrix[train], list(y[train]), c=strength)
            return np.array(model["classes"], dtype=object)[closed.probabilities(model, matrix[test]).argmax(1)]
        return predict

    return {"majority": majority, "tfidf": tfidf, "cues": linear(rows[:, cue_columns], c), "carelm": linear(rows, c),
            "carelm+vectors": linear(np.hstack([rows, vectors]), c / 10)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--c", type=float, default=closed.DEFAULT_C)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--save-model", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    path = data_dir(args.data) / "pubmedqa" / "dev.json"
    items = load_items(path, args.limit)
    y = np.array([it["answer"] for it in items], dtype=object)
    started = time.perf_counter()
    rows, vectors = feature_matrix(items, args.cache)
    print(f"{len(items)} questions ({', '.join(f'{k} {int((y == k).sum())}' for k in closed.LABELS)}); "
          f"features in {time.perf_counter() - started:.0f} s", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    print(f"{args.folds}-fold stratified cross-validation, seeds {seeds}")
    print(f"{'system':<16} {'accuracy':>9} {'(sd)':>7} {'macro-F1':>9}")
    for name, predict in systems(items, rows, vectors, y, args.c).items():
        results[name] = cross_validate(predict, y, args.folds, seeds)
        r = results[name]
        print(f"{name:<16} {r['accuracy']:>9.3f} {r['accuracy_sd']:>7.3f} {r['macro_f1']:>9.3f}", flush=True)
    for label, value in REFERENCES:
        print(f"  reference: {label}: accuracy {value:.3f}")
    if args.save_model:
        model = closed.fit(rows, list(y), c=args.c)
        model["trained_on"] = (f"PubMedQA PQA-L labelled set ({len(items)} questions, MIT licence), "
                               f"question + contexts only; bench/pubmedqa.py --save-model, C={args.c}")
        model["cross_validation"] = results["carelm"]
        closed.save_model(model, args.save_model)
        print(f"model written to {args.save_model} ({args.save_model.stat().st_size} bytes)")
    if args.json:
        args.json.write_text(json.dumps({"n": len(items), "folds": args.folds, "seeds": seeds, "c": args.c,
                                         "results": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
