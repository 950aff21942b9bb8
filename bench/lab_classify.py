"""Specialty classification on MTSamples beside TF-IDF + logistic regression, then distillation and ONNX.

Usage:

    .venv/bin/python bench/lab_classify.py [--data DIR] [--min-notes 20] [--epochs 2] [--lr 3e-5] [--layers 1]
        [--student-epochs 8] [--student-lr 1e-4] [--keep DIR [--reuse]]
        [--max-length 256] [--windows 3] [--pooling mean] [--limit N] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``): ``mtsamples/dev.jsonl``.  The task is
multi-label: a note's labels are its specialties among those with at least ``--min-notes`` notes (notes left
with none are dropped).  The split is grouped by ``sample_name`` (notes sharing a name never straddle it), 80%
train and 20% test, with ``--seed``.  Both systems decide the same way (every label whose probability reaches
0.5, else the single best) and are scored on the same test notes (macro- and micro-F1, subset accuracy):

1. ``tfidf-lr``: scikit-learn TF-IDF (word 1–2-grams, sublinear tf) + one-vs-rest logistic regression,
   trained in this run;
2. ``minilm``: ``carelm.lab.classify.train_classifier`` fine-tuning the packaged MiniLM (6 layers) with a
   head on the mean of its token vectors, each note read as up to ``--windows`` windows, early-stopping on a
   grouped 10% of train;
3. ``student``: ``carelm.lab.distill.distill`` of that model into ``--layers`` layers;
4. teacher and student exported to ONNX (``carelm.lab.inference.export_onnx``, checked within 1e-4) and
   timed on the test notes with torch and with ONNX Runtime (notes per second, batch 32, after a warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load(data: Path, min_notes: int) -> tuple[list, list[str]]:
    """ClassifyExamples (id = sample name) with the specialties that have at least ``min_notes`` notes."""
    from collections import Counter

    from carelm.lab.data import ClassifyExample

    rows = [json.loads(line) for line in (data / "mtsamples" / "dev.jsonl").open(encoding="utf-8") if line.strip()]
    counts = Counter(label for row in rows for label in row["specialties"])
    kept = sorted(label for label, count in counts.items() if count >= min_notes)
    examples = []
    for row in rows:
        labels = tuple(label for label in row["specialties"] if label in kept)
        if labels and row.get("transcription", "").strip():
            examples.append(ClassifyExample(row["transcription"], labels, row.get("sample_name") or None))
    return examples, kept


def tfidf_baseline(train: list, test: list, labels: list[str]) -> tuple[list[set], float]:
    """Predicted label sets of ``test`` by TF-IDF + one-vs-rest logistic regression; and its fit seconds."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    started = time.perf_counter()
    vectoriser = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=50_000)
    features = vectoriser.fit_transform([e.text for e in train])
    targets = np.array([[label in e.labels for label in labels] for e in train], dtype=int)
    model = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000))
    model.fit(features, targets)
    seconds = time.perf_counter() - started
    scores = model.predict_proba(vectoriser.transform([e.text for e in test]))
    from carelm.lab.classify import decide

    return [set(found) for found in decide(scores, labels, True)], seconds


def scores_for(gold: list[set], predicted: list[set], labels: list[str]) -> dict:
    from carelm.lab.metrics import multilabel_report

    report = multilabel_report(gold, predicted, labels)
    return {"macro_f1": round(report["macro"]["f1"], 4), "micro_f1": round(report["micro"]["f1"], 4),
            "subset_accuracy": round(report["subset_accuracy"], 4)}


def speed(predictor, texts: list[str]) -> float:
    """Notes per second of ``predictor`` over ``texts`` after a warm-up."""
    predictor.predict(texts[:8])
    started = time.perf_counter()
    predictor.predict(texts)
    return round(len(texts) / (time.perf_counter() - started), 2)


def main(argv: list[str] | None = None) -> None:
    from carelm.lab.classify import train_classifier
    from carelm.lab.data import split_examples
    from carelm.lab.distill import distill
    from carelm.lab.inference import Predictor, export_onnx
    from carelm.lab.trainer import TrainConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--min-notes", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1, help="student layers")
    parser.add_argument("--student-epochs", type=int, default=8)
    parser.add_argument("--student-lr", type=float, default=1e-4)
    parser.add_argument("--windows", type=int, default=3, help="windows of --max-length tokens per note")
    parser.add_argument("--pooling", choices=("mean", "cls"), default="mean")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, help="first N notes only (a smoke run)")
    parser.add_argument("--speed-only", action="store_true",
                        help="skip training: time an untrained 6-layer classifier and its --layers student, "
                             "torch and ONNX (speed does not depend on the weights)")
    parser.add_argument("--keep", type=Path, help="keep the trained models in this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="score and time the models already in --keep instead of training (minutes: null)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    examples, labels = load(args.data, args.min_notes)
    examples = examples[: args.limit] if args.limit else examples
    train, test = split_examples(examples, 0.2, args.seed, groups=lambda e: e.id)
    gold = [set(e.labels) for e in test]
    if args.speed_only:
        report = {"test": len(test), "speed": speed_only(test, labels, args)}
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return
    report: dict = {"notes": len(examples), "labels": len(labels), "train": len(train), "test": len(test),
                    "settings": {k: v for k, v in vars(args).items() if k not in ("data", "json", "keep")}}
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep")
    predicted, seconds = tfidf_baseline(train, test, labels)
    report["tfidf-lr"] = scores_for(gold, predicted, labels) | {"train_seconds": round(seconds, 1)}
    print(json.dumps({"tfidf-lr": report["tfidf-lr"]}), file=sys.stderr)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr, max_length=args.max_length,
                         seed=args.seed, dev_fraction=0.1, patience=2)
    last = [0.0]

    def progress(step: int, steps: int, loss: float, rate: float) -> None:
        if time.perf_counter() - last[0] > 60 or step == steps:
            last[0] = time.perf_counter()
            print(f"  step {step}/{steps} loss {loss:.4f} {rate:.1f} notes/s", file=sys.stderr)

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="carelm-classify-bench-") as scratch:
        root = args.keep or Path(scratch)
        fit_train, selection = split_examples(train, 0.1, rng.randrange(1 << 30), groups=lambda e: e.id)
        started = time.perf_counter()
        if args.reuse:
            teacher = kept(root / "teacher")
        else:
            teacher = train_classifier(fit_train, root / "teacher", config=config, dev=selection, progress=progress,
                                       windows=args.windows, pooling=args.pooling)
        teacher_minutes = (time.perf_counter() - started) / 60
        teacher_predictor = Predictor(teacher.path)
        found = [set(p["labels"]) for p in teacher_predictor.predict([e.text for e in test])]
        report["minilm"] = scores_for(gold, found, labels) | {
            "train_minutes": None if args.reuse else round(teacher_minutes, 1), "steps": teacher.fit.steps,
            "best_epoch": teacher.fit.best_epoch,  # 0: the linear probe before fine-tuning
            "selection_macro_f1_by_epoch": [round(row.get("macro_f1", 0.0), 4) for row in teacher.fit.history]}
        print(json.dumps({"minilm": report["minilm"]}), file=sys.stderr)
        started = time.perf_counter()
        student_config = TrainConfig(epochs=args.student_epochs, batch_size=args.batch, learning_rate=args.student_lr,
                                     max_length=args.max_length, seed=args.seed, dev_fraction=0.1, patience=2)
        if args.reuse:
            student = kept(root / "student")
        else:
            student, _ = distill(teacher.path, fit_train, root / "student", student_layers=args.layers,
                                 config=student_config, dev=selection, progress=progress)
        student_minutes = (time.perf_counter() - started) / 60
        student_predictor = Predictor(student.path)
        found = [set(p["labels"]) for p in student_predictor.predict([e.text for e in test])]
        report["student"] = scores_for(gold, found, labels) | {
            "train_minutes": None if args.reuse else round(student_minutes, 1), "layers": args.layers}
        report["student"]["macro_f1_retained"] = round(report["student"]["macro_f1"] / report["minilm"]["macro_f1"], 4)
        texts = [e.text for e in test]
        timing = {}
        for name, result, predictor in (("teacher", teacher, teacher_predictor),
                                        ("student", student, student_predictor)):
            check = export_onnx(result.path, int8=True)
            int8 = Predictor(result.path, "onnx-int8")
            found = [set(p["labels"]) for p in int8.predict(texts)]
            timing[name] = {"torch_notes_per_s": speed(predictor, texts),
                            "onnx_notes_per_s": speed(Predictor(result.path, "onnx"), texts),
                            "onnx_int8_notes_per_s": speed(int8, texts),
                            "onnx_max_abs_difference": check["max_abs_difference"],
                            "onnx_int8_macro_f1": scores_for(gold, found, labels)["macro_f1"]}
        report["speed"] = timing
        report["speed"]["student_speedup_torch"] = round(
            timing["student"]["torch_notes_per_s"] / timing["teacher"]["torch_notes_per_s"], 2)
        report["speed"]["student_speedup_onnx"] = round(
            timing["student"]["onnx_notes_per_s"] / timing["teacher"]["onnx_notes_per_s"], 2)
        report["speed"]["student_speedup_onnx_int8"] = round(
            timing["student"]["onnx_int8_notes_per_s"] / timing["teacher"]["onnx_int8_notes_per_s"], 2)
    print(json.dumps(report, indent=2))
    print_tables(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def kept(folder: Path):
    """A model folder trained by an earlier run, shaped like a TrainResult for this script."""
    from types import SimpleNamespace

    from carelm.lab.modeling import ModelCard

    card = ModelCard.load(folder)
    fit = SimpleNamespace(steps=None, best_epoch=card.metrics.get("best_epoch"), history=[])
    return SimpleNamespace(path=folder, card=card, fit=fit)


def speed_only(test: list, labels: list[str], args: argparse.Namespace) -> dict:
    """Notes per second of a MiniLM classifier and its student, torch and ONNX, without training either."""
    from carelm.lab.classify import AUTO_CLASS
    from carelm.lab.distill import make_student
    from carelm.lab.inference import Predictor, export_onnx
    from carelm.lab.modeling import MEAN_POOLED, ModelCard, build_model, load_tokenizer, resolve_base, save_model

    base = resolve_base(None)
    tokenizer = load_tokenizer(base.tokenizer)
    teacher = build_model(base, MEAN_POOLED if args.pooling == "mean" else AUTO_CLASS, args.seed,
                          num_labels=len(labels), problem_type="multi_label_classification")
    shape = {"windows": args.windows, "pooling": args.pooling}
    texts = [e.text for e in test]
    timing = {}
    with tempfile.TemporaryDirectory(prefix="carelm-speed-bench-") as scratch:
        for name, model in (("teacher", teacher), ("student", make_student(teacher, args.layers))):
            folder = Path(scratch) / name
            save_model(folder, model, tokenizer, ModelCard("classify", labels, True, args.max_length, params=shape))
            check = export_onnx(folder, int8=True)
            timing[name] = {"torch_notes_per_s": speed(Predictor(folder), texts),
                            "onnx_notes_per_s": speed(Predictor(folder, "onnx"), texts),
                            "onnx_int8_notes_per_s": speed(Predictor(folder, "onnx-int8"), texts),
                            "onnx_max_abs_difference": check["max_abs_difference"]}
    for backend in ("torch", "onnx", "onnx_int8"):
        timing[f"student_speedup_{backend}"] = round(
            timing["student"][f"{backend}_notes_per_s"] / timing["teacher"][f"{backend}_notes_per_s"], 2)
    return timing


def print_tables(report: dict) -> None:
    print(f"\n{report['test']} test notes, {report['labels']} specialties (grouped split)\n")
    print("| system | macro-F1 | micro-F1 | subset acc. |")
    print("|---|---|---|---|")
    for name in ("tfidf-lr", "minilm", "student"):
        found = report[name]
        print(f"| {name} | {found['macro_f1']:.3f} | {found['micro_f1']:.3f} | {found['subset_accuracy']:.3f} |")
    speed = report["speed"]
    print("\n| model | torch notes/s | ONNX notes/s | ONNX int8 notes/s | ONNX max abs diff | int8 macro-F1 |")
    print("|---|---|---|---|---|---|")
    for name in ("teacher", "student"):
        found = speed[name]
        print(f"| {name} | {found['torch_notes_per_s']} | {found['onnx_notes_per_s']} | "
              f"{found['onnx_int8_notes_per_s']} | {found['onnx_max_abs_difference']:.1e} | "
              f"{found['onnx_int8_macro_f1']:.3f} |")
    print(f"\nstudent speed-up: torch {speed['student_speedup_torch']}x, ONNX {speed['student_speedup_onnx']}x, "
          f"ONNX int8 {speed['student_speedup_onnx_int8']}x; "
          f"macro-F1 retained {report['student']['macro_f1_retained']:.1%}")


if __name__ == "__main__":
    main()
