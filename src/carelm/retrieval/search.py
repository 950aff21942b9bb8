"""Ranking rows of one index by BM25, dense similarity, or both fused.

Hybrid ranking takes the ``depth`` best rows of each retriever (``depth`` at least ``k``), scores every
candidate by both (a BM25 score of zero when no query term matches it), fuses those scores
(``carelm.retrieval.fusion``) and keeps the ``k`` best.  A row that ``mask`` excludes is never returned.
BM25 alone returns only rows sharing at least one term with the query.
"""

from __future__ import annotations

import numpy as np

from carelm.retrieval.fusion import DENSE_WEIGHT, FUSION, fuse
from carelm.retrieval.vectors import VectorIndex

MODES = ("bm25", "dense", "hybrid")
DEPTH = 100


def top_rows(scores: np.ndarray, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Rows of the ``n`` highest ``scores`` (best first, ties by row), among ``allowed`` rows when given."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
        n = min(n, int(allowed.sum()))
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    rows = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return rows[np.lexsort((rows, -scores[rows]))]


def rank(
    lexical: np.ndarray | None,
    query_vector: np.ndarray | None,
    vectors: VectorIndex,
    *,
    mode: str,
    k: int,
    mask: np.ndarray | None = None,
    fusion: str = FUSION,
    weight: float = DENSE_WEIGHT,
    depth: int = DEPTH,
) -> list[tuple[int, float]]:
    """``(row, score)`` pairs, best first: see the module docstring."""
    if mode == "bm25":
        matched = lexical > 0 if mask is None else (lexical > 0) & mask
        rows = top_rows(lexical, k, matched)
        return [(int(r), float(lexical[r])) for r in rows]
    dense_rows, dense_all = _dense_candidates(query_vector, vectors, max(k, depth), mask)
    if mode == "dense":
        rows = dense_rows[:k]
        return [(int(r), float(vectors.matrix[r] @ query_vector)) for r in rows]
    matched = lexical > 0 if mask is None else (lexical > 0) & mask
    lexical_rows = top_rows(lexical, max(k, depth), matched)
    candidates = np.union1d(lexical_rows, dense_rows)
    if candidates.size == 0:
        return []
    dense = dense_all[candidates] if dense_all is not None else vectors.matrix[candidates] @ query_vector
    fused = fuse(lexical[candidates], dense, fusion, weight)
    order = np.lexsort((candidates, -fused))[:k]
    return [(int(candidates[i]), float(fused[i])) for i in order]


def _dense_candidates(query_vector: np.ndarray, vectors: VectorIndex, n: int,
                      mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``n`` nearest allowed rows, and every row's similarity when it was computed exactly."""
    if not vectors.exact and mask is None:
        rows, _ = vectors.top(query_vector, n)
        return rows, None
    scores = vectors.scores(query_vector)
    return top_rows(scores, n, mask), scores
