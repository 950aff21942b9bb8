"""Dense passage vectors in a persisted usearch index (cosine, float32; key = row number).

Vectors are unit length, so cosine similarity is a dot product.  Small indexes are scored exactly (one
matrix product over every row); above ``EXACT_LIMIT`` rows, candidates come from usearch's HNSW graph.
Removing rows builds a fresh usearch index from the remaining vectors: the file written afterwards
holds no trace of the removed ones (usearch's own ``remove`` only marks entries as deleted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

VECTORS = "vectors.usearch"
EXACT_LIMIT = 200_000

Encoder = Callable[[Sequence[str]], np.ndarray]


def usearch_class() -> Any:
    """usearch's ``Index``; ONNX Runtime, when installed, is imported first because the two native libraries
    crash a process that loads onnxruntime after usearch."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    from usearch.index import Index

    return Index


class VectorIndex:
    """Row-aligned passage vectors: exact scores for every row and approximate top-n search."""

    def __init__(self, matrix: np.ndarray, exact_limit: int = EXACT_LIMIT):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.exact_limit = exact_limit
        self._ann: Any = None

    @property
    def exact(self) -> bool:
        """Whether searches score every row (else candidates come from the HNSW graph)."""
        return self.size <= self.exact_limit

    @property
    def size(self) -> int:
        return self.matrix.shape[0]

    @property
    def dimensions(self) -> int:
        return self.matrix.shape[1]

    def add(self, vectors: np.ndarray) -> VectorIndex:
        return VectorIndex(np.vstack([self.matrix, np.asarray(vectors, np.float32)]), self.exact_limit)

    def remove(self, drop: np.ndarray) -> VectorIndex:
        return VectorIndex(self.matrix[~np.asarray(drop, bool)], self.exact_limit)

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``query`` (a unit vector) with every row."""
        return self.matrix @ np.asarray(query, np.float32)

    def top(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and similarities of (about) the ``n`` nearest rows, best first."""
        n = min(n, self.size)
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self.exact:
            scores = self.scores(query)
            rows = np.argpartition(-scores, n - 1)[:n]
            rows = rows[np.argsort(-scores[rows], kind="stable")]
            return rows, scores[rows]
        matches = self._graph().search(np.asarray(query, np.float32), n)
        return np.asarray(matches.keys, np.int64), 1.0 - np.asarray(matches.distances, np.float32)

    def _graph(self) -> Any:
        if self._ann is None:
            self._ann = self._to_usearch()
        return self._ann

    def _to_usearch(self) -> Any:
        index = usearch_class()(ndim=self.dimensions, metric="cos", dtype="f32")
        if self.size:
            index.add(np.arange(self.size, dtype=np.uint64), self.matrix)
        return index

    def save(self, folder: Path) -> None:
        self._graph().save(str(folder / VECTORS))

    @classmethod
    def load(cls, folder: Path, dimensions: int) -> VectorIndex:
        index = usearch_class().restore(str(folder / VECTORS), view=False)
        if index is None or index.size == 0:
            return cls(np.zeros((0, dimensions), np.float32))
        keys = np.arange(index.size, dtype=np.uint64)
        loaded = cls(np.stack(index.get(keys, dtype=np.float32)))
        loaded._ann = index
        return loaded
