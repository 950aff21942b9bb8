"""NER benchmark: fine-tune the packaged MiniLM on NCBI-disease and BC5CDR train, report devel entity F1.

Usage:

    .venv/bin/python bench/lab_ner.py [--data DIR] [--datasets ncbi,bc5cdr] [--epochs 8] [--batch 8]
        [--lr 1e-4] [--max-length 128] [--no-pack] [--limit N] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data``): the IOB files
``ncbi_disease/conll/{train,devel}.tsv`` and ``bc5cdr/iob/{train,devel}.tsv``.  Each model is trained by
``carelm.lab.ner.train_tagger`` on the train file (consecutive sentences packed as document context unless
``--no-pack``; early stopping on a 10% split *of train*, never on devel) and scored once on devel:
exact-match entity precision, recall and F1 (micro, and per type), the measure of the published results
(NCBI-disease BioBERT 0.897; BC5CDR scispaCy 0.843).  ``--limit`` trains on the first N sentences only (a
smoke run).  Printed beside each: training minutes, steps, devel tagging speed and the selection F1 of
every epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = {
    "ncbi": ("ncbi_disease/conll/train.tsv", "ncbi_disease/conll/devel.tsv"),
    "bc5cdr": ("bc5cdr/iob/train.tsv", "bc5cdr/iob/devel.tsv"),
}


def run(name: str, data: Path, args: argparse.Namespace, out_root: Path) -> dict:
    """Train on one data set and score devel."""
    from carelm.lab.data import read_conll
    from carelm.lab.metrics import entity_report
    from carelm.lab.ner import tag_words, train_tagger
    from carelm.lab.trainer import TrainConfig

    train_file, devel_file = (data / part for part in FILES[name])
    train, devel = read_conll(train_file), read_conll(devel_file)
    if args.limit:
        train = train[: args.limit]
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                         max_length=args.max_length, seed=args.seed, dev_fraction=0.1, patience=2)
    last = [0.0]

    def progress(step: int, steps: int, loss: float, rate: float) -> None:
        if time.perf_counter() - last[0] > 60 or step == steps:
            last[0] = time.perf_counter()
            print(f"  {name}: step {step}/{steps} loss {loss:.4f} {rate:.0f} sentences/s", file=sys.stderr)

    started = time.perf_counter()
    result = train_tagger(train, out_root / name, config=config, pack=args.pack, progress=progress, resume=False)
    minutes = (time.perf_counter() - started) / 60
    from carelm.lab.ner import load_tagger

    model, tokenizer, card = load_tagger(result.path)
    tagging = time.perf_counter()
    tagged = tag_words(model, tokenizer, card, [example.tokens for example in devel])
    tag_seconds = time.perf_counter() - tagging
    report = entity_report([list(e.tags) for e in devel], [[tag for tag, _ in row] for row in tagged])
    return {
        "train_sentences": result.train_count,
        "selection_sentences": result.dev_count,
        "devel_sentences": len(devel),
        "precision": round(report["precision"], 4),
        "recall": round(report["recall"], 4),
        "f1": round(report["f1"], 4),
        "per_type": {kind: round(values["f1"], 4) for kind, values in report["per_class"].items()},
        "train_minutes": round(minutes, 1),
        "steps": result.fit.steps,
        "epochs_run": result.fit.epochs_run,
        "best_epoch": result.fit.best_epoch,
        "devel_sentences_per_s": round(len(devel) / tag_seconds, 1),
        "selection_f1_by_epoch": [round(row.get("f1", 0.0), 4) for row in result.fit.history],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--datasets", default="ncbi,bc5cdr")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--pack", action=argparse.BooleanOptionalAction, default=True,
                        help="train and tag consecutive sentences together (document context)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="carelm-ner-bench-") as scratch:
        for name in args.datasets.split(","):
            results[name] = run(name, args.data, args, Path(scratch))
            print(json.dumps({name: results[name]}), file=sys.stderr)
    report = {"settings": {k: v for k, v in vars(args).items() if k not in ("data", "json")}, "results": results}
    print(json.dumps(report, indent=2))
    print("\n| data set | devel P | devel R | devel F1 | published | train min | steps |")
    print("|---|---|---|---|---|---|---|")
    published = {"ncbi": "0.897 (BioBERT)", "bc5cdr": "0.843 (scispaCy)"}
    for name, found in results.items():
        print(f"| {name} | {found['precision']:.3f} | {found['recall']:.3f} | {found['f1']:.3f} | {published[name]} | "
              f"{found['train_minutes']} | {found['steps']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
