"""Model lab metrics: hand-computed classification, multi-label, entity and calibration figures; report files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from carelm.lab.metrics import (
    calibration,
    classification_report,
    entity_report,
    entity_spans,
    multilabel_report,
    write_calibration_png,
    write_confusion_png,
    write_report,
)

approx = pytest.approx

# Three classes, worked by hand.  Confusion (rows gold, columns predicted; cat, dog, fish):
#   cat  [2, 1, 0]   tp 2  fp 0  fn 1  ->  P 1    R 2/3  F1 4/5
#   dog  [0, 1, 1]   tp 1  fp 1  fn 1  ->  P 1/2  R 1/2  F1 1/2
#   fish [0, 0, 1]   tp 1  fp 1  fn 0  ->  P 1/2  R 1    F1 2/3
GOLD = ["cat", "cat", "cat", "dog", "dog", "fish"]
PREDICTED = ["cat", "cat", "dog", "dog", "fish", "fish"]


def test_three_class_report_by_hand():
    report = classification_report(GOLD, PREDICTED)
    assert report["labels"] == ["cat", "dog", "fish"]
    assert report["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["accuracy"] == approx(4 / 6) and report["support"] == 6
    assert report["per_class"]["cat"] == approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert report["per_class"]["dog"] == approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert report["per_class"]["fish"] == approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert report["micro"] == approx({"precision": 4 / 6, "recall": 4 / 6, "f1": 4 / 6})
    assert report["macro"] == approx({"precision": 2 / 3, "recall": 13 / 18, "f1": 59 / 90})
    assert report["weighted"] == approx({"precision": 0.75, "recall": 4 / 6, "f1": 61 / 90})
    json.dumps(report)  # JSON-safe


def test_given_labels_fix_the_order_and_may_be_unused():
    report = classification_report(["b", "a"], ["b", "b"], labels=["b", "a", "c"])
    assert report["labels"] == ["b", "a", "c"]
    assert report["confusion"] == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert report["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["macro"]["f1"] == approx((2 / 3 + 0 + 0) / 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: classification_report(["a"], ["a", "b"]), "1 gold items but 2 predictions"),
        (lambda: classification_report(["a"], ["z"], labels=["a"]), r"not in the given label list: \['z'\]"),
        (lambda: classification_report(["a"], ["a"], labels=["a", "a"]), "must not repeat"),
        (lambda: multilabel_report([{"a"}], [{"q"}], labels=["a"]), "not in the given label list"),
    ],
)
def test_report_argument_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_empty_classification_report():
    report = classification_report([], [])
    assert report["accuracy"] == 0.0 and report["labels"] == [] and report["micro"]["f1"] == 0.0


def test_multilabel_report_by_hand():
    # a: tp 2; b: fn 1; c: tp 1, fp 1  ->  micro tp 3 fp 1 fn 1
    gold = [{"a", "b"}, {"a"}, {"c"}]
    predicted = [{"a"}, {"a", "c"}, {"c"}]
    report = multilabel_report(gold, predicted, labels=["a", "b", "c"])
    assert report["subset_accuracy"] == approx(1 / 3)
    assert report["micro"] == approx({"precision": 0.75, "recall": 0.75, "f1": 0.75})
    assert report["macro"]["f1"] == approx((1 + 0 + 2 / 3) / 3)
    assert report["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["per_class"]["c"] == approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert multilabel_report(gold, predicted)["labels"] == ["a", "b", "c"]


ENTITY_SPANS = [
    ([], []),
    (["O", "O"], []),
    (["B-X", "I-X", "O"], [(0, 2, "X")]),
    (["I-X", "I-X"], [(0, 2, "X")]),  # I- without B- opens an entity
    (["B-X", "B-X"], [(0, 1, "X"), (1, 2, "X")]),
    (["B-X", "I-Y", "I-Y"], [(0, 1, "X"), (1, 3, "Y")]),
    (["O", "I-Drug-Class", "I-Drug-Class"], [(1, 3, "Drug-Class")]),
    (
        ["B-X", "I-X", "O", "I-Y", "B-Y", "B-X", "I-Y"],
        [(0, 2, "X"), (3, 4, "Y"), (4, 5, "Y"), (5, 6, "X"), (6, 7, "Y")],
    ),
]


@pytest.mark.parametrize(("tags", "spans"), ENTITY_SPANS)
def test_entity_spans(tags, spans):
    assert entity_spans(tags) == spans


@pytest.mark.parametrize("tag", ["B-", "X-Disease", "Disease", "o"])
def test_entity_spans_rejects_malformed_tags(tag):
    with pytest.raises(ValueError, match="is not O, B-<type> or I-<type>"):
        entity_spans(["O", tag])


def test_entity_report_by_hand():
    gold = [["B-D", "I-D", "O", "B-C"], ["O", "B-D"]]
    predicted = [["B-D", "I-D", "O", "O"], ["B-C", "I-D"]]
    # D: both found (the second via I-D after B-C); C: one missed, one spurious.  Tokens right: 3 of 6.
    report = entity_report(gold, predicted)
    assert (report["precision"], report["recall"], report["f1"]) == approx((2 / 3, 2 / 3, 2 / 3))
    assert report["micro"] == approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    assert report["per_class"]["D"] == approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2})
    assert report["per_class"]["C"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro"]["f1"] == approx(0.5)
    assert report["token_accuracy"] == approx(0.5) and report["tokens"] == 6


def test_entity_report_boundaries_must_match_exactly():
    report = entity_report([["B-D", "I-D", "I-D"]], [["B-D", "I-D", "O"]])
    assert report["f1"] == 0.0 and report["token_accuracy"] == approx(2 / 3)


def test_entity_report_length_errors():
    with pytest.raises(ValueError, match="1 gold items but 2 predictions"):
        entity_report([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_report([["O"], ["O", "O"]], [["O"], ["O"]])


def test_calibration_by_hand():
    confidences = [0.05, 0.15, 0.15, 0.95, 0.95, 0.95, 0.95]
    correct = [False, True, False, True, True, True, False]
    result = calibration(confidences, correct, bins=10)
    # gaps: bin 0 |0 - .05| = .05 (n 1); bin 1 |.5 - .15| = .35 (n 2); bin 9 |.75 - .95| = .2 (n 4)
    assert result["ece"] == approx((0.05 + 2 * 0.35 + 4 * 0.2) / 7)
    assert result["count"] == 7 and result["accuracy"] == approx(4 / 7)
    assert [row["count"] for row in result["bins"]] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 4]
    assert result["bins"][1] == approx({"lower": 0.1, "upper": 0.2, "count": 2, "accuracy": 0.5, "confidence": 0.15})
    assert result["bins"][5]["accuracy"] is None


@pytest.mark.parametrize(("confidence", "bin_index"), [(0.0, 0), (0.1, 1), (0.3, 3), (0.7, 7), (0.999, 9), (1.0, 9)])
def test_calibration_bin_edges(confidence, bin_index):
    counts = [row["count"] for row in calibration([confidence], [True])["bins"]]
    assert counts.index(1) == bin_index


@pytest.mark.parametrize(
    ("confidences", "correct", "bins", "message"),
    [
        ([1.2], [True], 10, r"must lie in \[0, 1\]"),
        ([float("nan")], [True], 10, "must lie"),
        ([0.5], [], 10, "1 gold"),
        ([0.5], [True], 0, "bins must be at least 1"),
    ],
)
def test_calibration_argument_errors(confidences, correct, bins, message):
    with pytest.raises(ValueError, match=message):
        calibration(confidences, correct, bins=bins)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_confusion_png(tmp_path):
    path = write_confusion_png(classification_report(GOLD, PREDICTED), tmp_path / "confusion.png")
    width, height = _png_size(path)
    assert width >= 300 and height >= 300 and path.stat().st_size > 5_000


def test_calibration_png(tmp_path):
    result = calibration([0.05, 0.15, 0.55, 0.95, 0.95], [False, True, True, True, False])
    path = write_calibration_png(result, tmp_path / "calibration.png")
    width, height = _png_size(path)
    assert width >= 300 and height >= 300 and path.stat().st_size > 5_000


def test_write_report_classification(tmp_path):
    report = classification_report(GOLD, PREDICTED)
    result = calibration([0.9, 0.8, 0.6, 0.7, 0.5, 0.9], [g == p for g, p in zip(GOLD, PREDICTED, strict=True)])
    written = write_report(tmp_path / "report", report, calibration=result)
    assert [p.name for p in written] == ["metrics.json", "confusion.png", "calibration.png"]
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["confusion"] == report["confusion"] and saved["calibration"]["ece"] == approx(result["ece"])
    assert all(_png_size(p) for p in written[1:])


def test_write_report_entities_has_no_figures(tmp_path):
    written = write_report(tmp_path, entity_report([["B-D"]], [["B-D"]]))
    assert [p.name for p in written] == ["metrics.json"]
    assert json.loads(written[0].read_text(encoding="utf-8"))["f1"] == 1.0
