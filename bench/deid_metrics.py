"""Pure scoring functions for the de-identification benchmark (bench/deid.py); no I/O, no carelm import.

What is measured, type-agnostically (Safe Harbor asks that PHI be removed, not that it be named):

- token recall: gold PHI tokens are the ``\\w+`` matches inside each scored gold span (punctuation and
  spaces are not tokens).  A gold token is caught when every one of its characters lies inside some
  predicted span (the union of predictions covers it whole).  Recall = caught / gold tokens, overall and
  per gold type.
- span recall: a scored gold span is caught when all its tokens are caught (spans without any token are
  left out).
- span precision: a predicted span is correct when it overlaps (shares at least one character with) a
  scored gold span; neutral, and left out, when it overlaps only gold spans of types that are not scored;
  wrong otherwise.  Precision = correct / (correct + wrong), overall and per predicted type.
- F1: harmonic mean of token recall and span precision.

Predictions are merged first (overlapping spans become one covering span, the best-scored part names the
type), as carelm's engine does, so that systems returning stacked alternatives are not counted twice.
Run ``python bench/deid.py --self-check`` to verify these definitions on small invented examples.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Gold:
    """A gold PHI span [start, end) with the data set's own type; ``scored`` False for non-PHI types."""

    start: int
    end: int
    type: str
    scored: bool = True


@dataclass(frozen=True, slots=True)
class Pred:
    """A predicted span [start, end) with the system's type and score."""

    start: int
    end: int
    type: str
    score: float = 1.0


@dataclass(slots=True)
class Tally:
    """Counts added up over the notes of one data set for one system."""

    tokens: Counter = field(default_factory=Counter)  # gold type -> gold tokens
    caught: Counter = field(default_factory=Counter)  # gold type -> caught gold tokens
    spans: int = 0
    spans_caught: int = 0
    correct: Counter = field(default_factory=Counter)  # predicted type -> spans overlapping scored gold
    wrong: Counter = field(default_factory=Counter)  # predicted type -> spans overlapping no gold
    neutral: Counter = field(default_factory=Counter)  # predicted type -> spans on not-scored gold only

    def add(self, other: Tally) -> None:
        for mine, theirs in ((self.tokens, other.tokens), (self.caught, other.caught), (self.correct, other.correct),
                             (self.wrong, other.wrong), (self.neutral, other.neutral)):
            mine.update(theirs)
        self.spans += other.spans
        self.spans_caught += other.spans_caught


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def f1(recall: float | None, precision: float | None) -> float | None:
    if recall is None or precision is None or recall + precision == 0:
        return None if recall is None or precision is None else 0.0
    return 2 * recall * precision / (recall + precision)


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def merge_overlaps(preds: list[Pred]) -> list[Pred]:
    """Overlapping predictions become one covering span; the best-scored (then longest) part names it."""
    merged: list[Pred] = []
    for pred in sorted(preds, key=lambda p: (p.start, -p.end)):
        if merged and pred.start < merged[-1].end:
            last = merged[-1]
            best = max((last, pred), key=lambda p: (p.score, p.end - p.start))
            merged[-1] = Pred(last.start, max(last.end, pred.end), best.type, max(last.score, pred.score))
        else:
            merged.append(pred)
    return merged


def gold_tokens(text: str, gold: list[Gold]) -> dict[tuple[int, int], str]:
    """(start, end) -> gold type of each ``\\w+`` token inside a scored gold span (first span wins)."""
    tokens: dict[tuple[int, int], str] = {}
    for span in gold:
        if span.scored:
            for m in WORD_RE.finditer(text, span.start, span.end):
                tokens.setdefault((m.start(), m.end()), span.type)
    return tokens


def covered(start: int, end: int, merged: list[Pred]) -> bool:
    """True when the merged (disjoint, sorted) predictions cover [start, end) whole."""
    pos = start
    for pred in merged:
        if pred.start > pos:
            break
        pos = max(pos, pred.end)
        if pos >= end:
            return True
    return pos >= end


def judge(pred: Pred, gold: list[Gold]) -> str:
    """'correct', 'neutral' or 'wrong' for one predicted span."""
    hit = [g for g in gold if overlaps(pred.start, pred.end, g.start, g.end)]
    if any(g.scored for g in hit):
        return "correct"
    return "neutral" if hit else "wrong"


def score_note(text: str, gold: list[Gold], preds: list[Pred]) -> Tally:
    """Tally one note: gold tokens caught, gold spans caught, predicted spans judged."""
    merged = merge_overlaps(preds)
    tally = Tally()
    caught_at: dict[tuple[int, int], bool] = {}
    for (start, end), kind in gold_tokens(text, gold).items():
        caught_at[(start, end)] = covered(start, end, merged)
        tally.tokens[kind] += 1
        tally.caught[kind] += caught_at[(start, end)]
    for span in gold:
        keys = [(m.start(), m.end()) for m in WORD_RE.finditer(text, span.start, span.end)] if span.scored else []
        if keys:
            tally.spans += 1
            tally.spans_caught += all(caught_at.get(k, False) for k in keys)
    for pred in merged:
        getattr(tally, judge(pred, gold))[pred.type] += 1
    return tally


def summary(tally: Tally) -> dict:
    """The headline figures of a tally, plus per gold type recall and per predicted type precision."""
    recall = ratio(sum(tally.caught.values()), sum(tally.tokens.values()))
    correct, wrong = sum(tally.correct.values()), sum(tally.wrong.values())
    precision = ratio(correct, correct + wrong)
    kinds = set(tally.correct) | set(tally.wrong) | set(tally.neutral)
    return {
        "token_recall": recall,
        "span_precision": precision,
        "f1": f1(recall, precision),
        "span_recall": ratio(tally.spans_caught, tally.spans),
        "gold_tokens": sum(tally.tokens.values()),
        "gold_spans": tally.spans,
        "predicted_correct": correct,
        "predicted_wrong": wrong,
        "predicted_neutral": sum(tally.neutral.values()),
        "recall_by_type": {
            kind: {"recall": ratio(tally.caught[kind], n), "tokens": n} for kind, n in sorted(tally.tokens.items())
        },
        "precision_by_type": {
            kind: {"precision": ratio(tally.correct[kind], tally.correct[kind] + tally.wrong[kind]),
                   "correct": tally.correct[kind], "wrong": tally.wrong[kind], "neutral": tally.neutral[kind]}
            for kind in sorted(kinds)
        },
    }
