"""Hybrid fusion of a lexical (BM25) and a dense score list over the same candidate rows.

Three methods, all over the union of both retrievers' top candidates:

- ``minmax``: each score list scaled to [0, 1] over the candidates, then ``w * dense + (1 - w) * bm25``;
- ``zscore``: each list standardised (mean 0, deviation 1) over the candidates, then the same combination;
- ``rrf``: reciprocal rank fusion, ``sum 1 / (c + rank)`` with each retriever's own ranking.

``bench/retrieval.py`` compares them on SciFact; the default (``FUSION``, ``DENSE_WEIGHT``) is the winner
there, chosen on one half of the training claims and reported on the other (docs/search.md).
"""

from __future__ import annotations

import numpy as np

METHODS = ("minmax", "zscore", "rrf")
FUSION = "zscore"
DENSE_WEIGHT = 0.6
RRF_C = 60


def fuse(lexical: np.ndarray, dense: np.ndarray, method: str = FUSION, weight: float = DENSE_WEIGHT) -> np.ndarray:
    """Fused scores of candidate rows from their BM25 and dense scores (same order, same length)."""
    lexical = np.asarray(lexical, np.float64)
    dense = np.asarray(dense, np.float64)
    if method == "minmax":
        return weight * _minmax(dense) + (1.0 - weight) * _minmax(lexical)
    if method == "zscore":
        return weight * _zscore(dense) + (1.0 - weight) * _zscore(lexical)
    if method == "rrf":
        return weight * _reciprocal_rank(dense) + (1.0 - weight) * _reciprocal_rank(lexical)
    raise ValueError(f"unknown fusion method {method!r}; accepted: {', '.join(METHODS)}")


def _minmax(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    low, high = scores.min(), scores.max()
    return (scores - low) / (high - low) if high > low else np.zeros_like(scores)


def _zscore(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)


def _reciprocal_rank(scores: np.ndarray) -> np.ndarray:
    """``1 / (c + rank)`` with rank 1 for the best score; ties share the better rank."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    # ties: every member of a run of equal scores gets the run's first rank
    sorted_scores = scores[order]
    first = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    run_rank = np.maximum.accumulate(np.where(first, np.arange(1, len(scores) + 1), 0))
    ranks[order] = run_rank
    return 1.0 / (RRF_C + ranks)
