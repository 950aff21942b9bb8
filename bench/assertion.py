"""Assertion benchmark: carelm's ConText rules on the NegEx and ConText test kits.

Usage (product venv):

    .venv/bin/python bench/assertion.py [--data DIR] [--errors N] [--json OUT] [--baseline | --no-baseline]

The baseline is medspaCy's ConText with its default rules, run on the same target spans in its own venv
(made by ``bash bench/setup-assertion-baselines.sh``) through bench/_medspacy_runner.py; it is on by default
when that venv exists.  Each sentence is one sentence there too, the target its only entity; medspaCy's
``is_negated`` counts as negated, ``is_hypothetical`` else ``is_historical`` gives the temporality and
``is_family`` the experiencer, the same mapping as carelm's flags.  Its rows/s is ConText plus tokenizing,
timed inside the runner after one warm-up row.

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data`` beside the repository):

- ``negex/Annotations-dev.txt``: TSV with a header; columns report number, concept, sentence and
  ``Negated``/``Affirmed``.  The concept is written UPPERCASED inside the sentence.
- ``negex/ConText-dev.tsv``: TSV with a header; columns line number, condition, sentence, negation
  (negated/affirmed/possible), temporality (recent/historical/"not particular" = hypothetical) and
  experiencer (patient/other or family member).

Each row becomes one target span: the concept found in its sentence (its uppercased spelling first, else
case-insensitively, any run of whitespace matching any other); rows whose concept cannot be found are
counted and skipped.  ``assert_spans`` then judges the target with the sentence as the only sentence and no
sections.  Measured: negation precision, recall, F1 and accuracy; temporality and experiencer accuracy;
throughput.  Errors (``--errors``) go to the terminal only; ``--json`` holds figures only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from carelm.core.types import Span
from carelm.extract.assertion import assert_spans, default_rules

REPO = Path(__file__).resolve().parents[1]
BASELINE_PYTHON = REPO / "bench" / ".venv-assertion" / "bin" / "python"
MEDSPACY_RUNNER = REPO / "bench" / "_medspacy_runner.py"
TEMPORALITY = {"recent": "recent", "historical": "historical", "not particular": "hypothetical",
               "hypothetical": "hypothetical"}
EXPERIENCER = {"patient": "patient", "other": "other", "family member": "other"}


@dataclass
class Row:
    """One benchmark item: a concept in a sentence and its gold labels (None where the kit has none)."""

    concept: str
    sentence: str
    negated: bool
    temporality: str | None = None
    experiencer: str | None = None


@dataclass
class Score:
    """Counts for one data set."""

    rows: int = 0
    skipped: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    temporal_right: int = 0
    experiencer_right: int = 0
    labelled: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float | int | None]:
        judged = self.tp + self.fp + self.fn + self.tn
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "rows": self.rows, "skipped": self.skipped, "neg_precision": precision, "neg_recall": recall,
            "neg_f1": f1, "neg_accuracy": (self.tp + self.tn) / judged if judged else 0.0,
            "temporality_accuracy": self.temporal_right / self.labelled if self.labelled else None,
            "experiencer_accuracy": self.experiencer_right / self.labelled if self.labelled else None,
            "rows_per_s": judged / self.seconds if self.seconds else 0.0,
        }


def _table(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for cells in reader:
            if len(cells) >= 4:
                yield [cell.strip() for cell in cells]


def _unquote(sentence: str) -> str:
    return sentence[1:-1] if len(sentence) > 1 and sentence[0] == sentence[-1] == '"' else sentence


def read_negex(path: Path) -> list[Row]:
    """Rows of the NegEx kit (report, concept, sentence, Negated/Affirmed)."""
    return [Row(_unquote(cells[1]), _unquote(cells[2]), cells[3].lower() == "negated") for cells in _table(path)
            if cells[3].lower() in ("negated", "affirmed")]


def read_context(path: Path) -> list[Row]:
    """Rows of the ConText kit (line, condition, sentence, negation, temporality, experiencer)."""
    return [Row(_unquote(cells[1]), _unquote(cells[2]), cells[3].lower() == "negated", TEMPORALITY[cells[4].lower()],
                EXPERIENCER[cells[5].lower()]) for cells in _table(path) if len(cells) >= 6]


def find_concept(concept: str, sentence: str) -> tuple[int, int] | None:
    """Offsets of the concept in the sentence: the uppercased spelling first, else any case."""
    words = concept.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(word.upper()) for word in words), sentence)
    match = match or re.search(r"\s+".join(re.escape(word) for word in words), sentence, re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def _describe(row: Row, got: dict[str, object]) -> str:
    flags = ",".join(name for name, value in got.items() if value is True) or "-"
    gold = f"neg={row.negated} temp={row.temporality} exp={row.experiencer}"
    return f"[{gold} | got {flags}] {row.concept!r}: {' '.join(row.sentence.split())}"


def evaluate(rows: list[Row]) -> Score:
    """Judge every row with ``assert_spans`` and count agreements."""
    score = Score(rows=len(rows))
    default_rules()
    begin = time.perf_counter()
    for row in rows:
        target = find_concept(row.concept, row.sentence)
        if target is None:
            score.skipped += 1
            continue
        got = assert_spans(row.sentence, [Span(0, len(row.sentence), "sentence")], [], [target])[0]
        _count(score, row, got)
    score.seconds = time.perf_counter() - begin
    return score


def evaluate_medspacy(rows: list[Row], python: Path) -> Score:
    """Judge every row with medspaCy's ConText in the baseline venv and count agreements."""
    score = Score(rows=len(rows))
    targets = [(index, row, find_concept(row.concept, row.sentence)) for index, row in enumerate(rows)]
    found = [(index, row, target) for index, row, target in targets if target is not None]
    score.skipped = len(rows) - len(found)
    with tempfile.TemporaryDirectory(prefix="carelm-bench-") as tmp:
        inp, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        inp.write_text("".join(json.dumps({"id": index, "text": row.sentence, "start": target[0], "end": target[1]})
                               + "\n" for index, row, target in found), "utf-8")
        done = subprocess.run([str(python), str(MEDSPACY_RUNNER), "assert", str(inp), str(out)], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"medspacy runner failed ({done.returncode}):\n{done.stderr[-4000:]}")
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    score.seconds = lines.pop()["meta"]["seconds"]
    for (_, row, _), got in zip(found, lines, strict=True):
        _count(score, row, {"negated": got["is_negated"], "uncertain": got["is_uncertain"],
                            "historical": got["is_historical"], "hypothetical": got["is_hypothetical"],
                            "family": got["is_family"]})
    return score


def _count(score: Score, row: Row, got: dict[str, object]) -> None:
    negated = bool(got["negated"])
    score.tp += negated and row.negated
    score.fp += negated and not row.negated
    score.fn += row.negated and not negated
    score.tn += not negated and not row.negated
    temporal = "hypothetical" if got["hypothetical"] else "historical" if got["historical"] else "recent"
    experiencer = "other" if got["family"] else "patient"
    if row.temporality is not None:
        score.labelled += 1
        score.temporal_right += row.temporality == temporal
        score.experiencer_right += row.experiencer == experiencer
    wrong = negated != row.negated or row.temporality not in (None, temporal)
    if wrong or row.experiencer not in (None, experiencer):
        score.errors.append(_describe(row, got))


def _print(results: dict[str, Score]) -> None:
    keys = ["rows", "skipped", "neg_precision", "neg_recall", "neg_f1", "neg_accuracy", "temporality_accuracy",
            "experiencer_accuracy", "rows_per_s"]
    heads = ["rows", "skipped", "neg P", "neg R", "neg F1", "neg acc", "temporal acc", "experiencer acc", "rows/s"]
    print(f"{'data set / system':<32}" + "".join(f"{head:>16}" for head in heads))
    for name, score in results.items():
        figures = score.figures()
        print(f"{name:<32}" + "".join(_cell(figures[key]) for key in keys))


def _cell(value: float | int | None) -> str:
    if value is None:
        return f"{'-':>16}"
    return f"{value:>16}" if isinstance(value, int) else f"{value:>16.3f}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA") or REPO.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=Path(default), help="shared data folder")
    parser.add_argument("--errors", type=int, default=0, help="print up to N misjudged rows per data set")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=None,
                        help="also run medspaCy's ConText (default: when bench/.venv-assertion exists)")
    parser.add_argument("--baseline-python", type=Path, default=BASELINE_PYTHON)
    args = parser.parse_args(argv)
    baseline = args.baseline_python.exists() if args.baseline is None else args.baseline
    if baseline and not args.baseline_python.exists():
        sys.exit(f"baseline venv missing ({args.baseline_python}); create it with: "
                 "bash bench/setup-assertion-baselines.sh")
    if args.baseline is None and not baseline:
        print("note: no medspaCy baseline (bash bench/setup-assertion-baselines.sh makes it)", file=sys.stderr)
    folder = args.data / "negex"
    kits = {"negex/Annotations-dev": read_negex(folder / "Annotations-dev.txt"),
            "negex/ConText-dev": read_context(folder / "ConText-dev.tsv")}
    results: dict[str, Score] = {}
    for name, rows in kits.items():
        results[f"{name} carelm"] = evaluate(rows)
        if baseline:
            results[f"{name} medspacy"] = evaluate_medspacy(rows, args.baseline_python)
    _print(results)
    for name, score in results.items():
        for line in score.errors[: args.errors]:
            print(f"{name}: {line}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({k: v.figures() for k, v in results.items()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
