"""Evaluation metrics for the model lab: classification, multi-label, entities (exact span match), calibration.

Reports are JSON-safe dicts of one shape: ``micro``, ``macro`` and ``weighted`` precision/recall/F1, and
``per_class`` with each label's (or entity type's) precision/recall/F1/support. ``write_report`` saves a
report as ``metrics.json`` beside its figures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError

Report = dict[str, Any]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {"precision": precision, "recall": recall, "f1": _ratio(2 * precision * recall, precision + recall)}


def _summary(counts: dict[str, tuple[int, int, int]]) -> Report:
    """Micro (pooled counts), macro (plain mean) and weighted (by support) scores from per-label (tp, fp, fn)."""
    per_class = {label: {**_scores(*tpfpfn), "support": tpfpfn[0] + tpfpfn[2]} for label, tpfpfn in counts.items()}
    total = sum(row["support"] for row in per_class.values())
    pooled = [sum(tpfpfn[i] for tpfpfn in counts.values()) for i in range(3)]
    keys = ("precision", "recall", "f1")
    return {
        "micro": _scores(*pooled),
        "macro": {k: _ratio(sum(row[k] for row in per_class.values()), len(per_class)) for k in keys},
        "weighted": {k: _ratio(sum(row[k] * row["support"] for row in per_class.values()), total) for k in keys},
        "per_class": per_class,
    }


def _label_list(labels: Sequence[str] | None, seen: Iterable[str]) -> list[str]:
    """The given labels, checked to cover every label seen, or the sorted labels seen."""
    seen = set(seen)
    if labels is None:
        return sorted(seen)
    if len(set(labels)) != len(labels):
        raise ValueError("labels must not repeat")
    if unknown := seen - set(labels):
        raise ValueError(f"labels not in the given label list: {sorted(unknown)}")
    return list(labels)


def _check_lengths(gold: Sequence[Any], predicted: Sequence[Any]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold items but {len(predicted)} predictions")


def classification_report(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> Report:
    """Single-label scores: accuracy, averages, per class, and the confusion matrix (rows gold, columns predicted)."""
    _check_lengths(gold, predicted)
    labels = _label_list(labels, [*gold, *predicted])
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g]][index[p]] += 1
    counts = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        counts[label] = (tp, sum(row[i] for row in matrix) - tp, sum(matrix[i]) - tp)
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return {
        "accuracy": _ratio(correct, len(gold)),
        "support": len(gold),
        **_summary(counts),
        "labels": labels,
        "confusion": matrix,
    }


def multilabel_report(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], labels: Sequence[str] | None = None
) -> Report:
    """Multi-label scores over label sets: averages, per class, and subset accuracy (the whole set right)."""
    _check_lengths(gold, predicted)
    labels = _label_list(labels, [label for group in (*gold, *predicted) for label in group])
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    exact = 0
    for g, p in zip(gold, predicted, strict=True):
        g, p = set(g), set(p)
        tp.update(g & p)
        fp.update(p - g)
        fn.update(g - p)
        exact += g == p
    counts = {label: (tp[label], fp[label], fn[label]) for label in labels}
    return {"subset_accuracy": _ratio(exact, len(gold)), "support": len(gold), **_summary(counts), "labels": labels}


def entity_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entities of a BIO (IOB2) tag sequence as ``(start, end, type)`` token spans, ``end`` exclusive.

    As in conlleval, an ``I-X`` that does not continue an ``X`` entity starts one.
    """
    spans: list[tuple[int, int, str]] = []
    start, kind = 0, ""
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if prefix == "I" and label and label == kind:
            continue
        if kind:
            spans.append((start, position, kind))
        if prefix in ("B", "I") and label:
            start, kind = position, label
        elif tag == "O":
            kind = ""
        else:
            raise ValueError(f"tag {tag!r} at position {position} is not O, B-<type> or I-<type>")
    return spans


def entity_report(gold_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> Report:
    """Exact-match entity scores (type and both boundaries must agree), per type, and token accuracy.

    ``precision``, ``recall`` and ``f1`` at the top are the micro averages; ``per_class`` is keyed by entity type.
    """
    _check_lengths(gold_tags, predicted_tags)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    tokens = correct = 0
    for number, (gold, predicted) in enumerate(zip(gold_tags, predicted_tags, strict=True)):
        if len(gold) != len(predicted):
            raise ValueError(f"sentence {number}: {len(gold)} gold tags but {len(predicted)} predicted")
        tokens += len(gold)
        correct += sum(g == p for g, p in zip(gold, predicted, strict=True))
        gold_spans, predicted_spans = set(entity_spans(gold)), set(entity_spans(predicted))
        tp.update(kind for *_, kind in gold_spans & predicted_spans)
        fp.update(kind for *_, kind in predicted_spans - gold_spans)
        fn.update(kind for *_, kind in gold_spans - predicted_spans)
    counts = {kind: (tp[kind], fp[kind], fn[kind]) for kind in sorted(tp.keys() | fp.keys() | fn.keys())}
    summary = _summary(counts)
    # The headline precision/recall/F1 are the micro averages, as conlleval and seqeval report them.
    return {**summary["micro"], "token_accuracy": _ratio(correct, tokens), "tokens": tokens, **summary}


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> Report:
    """Per equal-width confidence bin: count, accuracy and mean confidence; and the expected calibration error.

    Bin ``i`` holds confidences in ``[i/bins, (i+1)/bins)`` (the last one also 1.0); an empty bin has null
    accuracy and confidence. ECE is the count-weighted mean of ``|accuracy - confidence|`` over the bins.
    """
    _check_lengths(confidences, correct)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    counts, hits, sums = [0] * bins, [0] * bins, [0.0] * bins
    for confidence, right in zip(confidences, correct, strict=True):
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidences must lie in [0, 1], got {confidence}")
        index = min(int(confidence * bins + 1e-9), bins - 1)  # the epsilon keeps k/bins in bin k
        counts[index] += 1
        hits[index] += bool(right)
        sums[index] += confidence
    total = len(confidences)
    rows = []
    for i in range(bins):
        accuracy = _ratio(hits[i], counts[i]) if counts[i] else None
        mean = _ratio(sums[i], counts[i]) if counts[i] else None
        rows.append(
            {"lower": i / bins, "upper": (i + 1) / bins, "count": counts[i], "accuracy": accuracy, "confidence": mean}
        )
    ece = sum(_ratio(row["count"], total) * abs(row["accuracy"] - row["confidence"]) for row in rows if row["count"])
    return {
        "bins": rows,
        "ece": ece,
        "count": total,
        "accuracy": _ratio(sum(hits), total),
        "confidence": _ratio(sum(sums), total),
    }


def _figure(width: float, height: float) -> Any:
    """A matplotlib figure drawn by the Agg canvas, without pyplot or a global backend switch."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("report figures need matplotlib (the 'ml' extra)") from None
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def write_confusion_png(report: Report, path: str | Path) -> Path:
    """Draw a classification report's confusion matrix (class names on the axes, counts in the cells) as a PNG."""
    labels, matrix = report["labels"], report["confusion"]
    if not labels:
        raise ValueError("the report has no labels to draw")
    side = min(3 + 0.6 * len(labels), 24)
    figure = _figure(side + 1, side)
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    peak = max(max(row) for row in matrix)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            colour = "white" if count > peak / 2 else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=colour)
    figure.colorbar(image, ax=axes)
    figure.savefig(path)
    return Path(path)


def write_calibration_png(calibration: Report, path: str | Path) -> Path:
    """Draw a reliability diagram (accuracy per confidence bin against the diagonal) as a PNG."""
    filled = [row for row in calibration["bins"] if row["count"]]
    figure = _figure(5, 5)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.bar(
        [row["lower"] for row in filled],
        [row["accuracy"] for row in filled],
        width=[row["upper"] - row["lower"] for row in filled],
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
    axes.set_title(f"ECE {calibration['ece']:.3f} (n = {calibration['count']})")
    axes.legend(loc="upper left")
    figure.savefig(path)
    return Path(path)


def write_report(folder: str | Path, report: Report, *, calibration: Report | None = None) -> list[Path]:
    """Write ``metrics.json`` (the report, plus ``calibration`` when given), ``confusion.png`` when the report
    has a confusion matrix, and ``calibration.png`` when calibration is given; return the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = report if calibration is None else {**report, "calibration": calibration}
    metrics_path = folder / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written = [metrics_path]
    if report.get("labels") and "confusion" in report:
        written.append(write_confusion_png(report, folder / "confusion.png"))
    if calibration is not None:
        written.append(write_calibration_png(calibration, folder / "calibration.png"))
    return written
