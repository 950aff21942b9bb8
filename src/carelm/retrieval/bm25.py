"""Okapi BM25 over term-major postings held in plain numpy arrays.

Postings: for term ``t``, ``docs[ptr[t]:ptr[t+1]]`` are the (ascending) rows that contain it and ``tf`` the
matching term frequencies.  The score of row ``d`` for a query is

    sum over query terms t of  idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * len(d) / avglen))

with Lucene's always-positive ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))``; a term repeated in the
query counts once per repetition.  Adding or removing rows rebuilds the arrays, so removed rows leave no
postings and a term no remaining row uses leaves the vocabulary.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75


class Bm25Index:
    """Term statistics of a list of rows (passages) and BM25 scoring over them."""

    def __init__(self, terms: list[str], ptr: np.ndarray, docs: np.ndarray, tf: np.ndarray,
                 lengths: np.ndarray, k1: float = K1, b: float = B):
        self.terms = terms
        self.term_ids = {term: i for i, term in enumerate(terms)}
        self.ptr, self.docs, self.tf, self.lengths = ptr, docs, tf, lengths
        self.k1, self.b = k1, b
        self._norm: np.ndarray | None = None

    # --- building ------------------------------------------------------------------------------
    @classmethod
    def build(cls, rows: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> Bm25Index:
        """An index of ``rows``, each the list of terms of one passage."""
        empty = cls([], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                    np.zeros(0, np.float32), k1, b)
        return empty.add(rows)

    def add(self, rows: Sequence[Sequence[str]]) -> Bm25Index:
        """A new index with ``rows`` appended after the existing ones."""
        terms = list(self.terms)
        ids = dict(self.term_ids)
        new_terms, new_docs, new_tf = [], [], []
        base = self.size
        for offset, tokens in enumerate(rows):
            for term, count in Counter(tokens).items():
                if term not in ids:
                    ids[term] = len(terms)
                    terms.append(term)
                new_terms.append(ids[term])
                new_docs.append(base + offset)
                new_tf.append(count)
        old_terms = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.ptr))
        all_terms = np.concatenate([old_terms, np.asarray(new_terms, np.int64)])
        all_docs = np.concatenate([self.docs, np.asarray(new_docs, np.int32)])
        all_tf = np.concatenate([self.tf, np.asarray(new_tf, np.float32)])
        lengths = np.concatenate([self.lengths, np.asarray([len(r) for r in rows], np.float32)])
        return self._from_triples(terms, all_terms, all_docs, all_tf, lengths)

    def remove(self, drop: np.ndarray) -> Bm25Index:
        """A new index without the rows where the boolean mask ``drop`` is true (rows renumbered)."""
        keep_rows = ~np.asarray(drop, bool)
        new_row = np.cumsum(keep_rows) - 1
        term_of = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.ptr))
        kept = keep_rows[self.docs]
        term_of, docs, tf = term_of[kept], new_row[self.docs[kept]].astype(np.int32), self.tf[kept]
        used = np.unique(term_of)
        remap = np.full(len(self.terms), -1, np.int64)
        remap[used] = np.arange(len(used))
        terms = [self.terms[i] for i in used]
        return self._from_triples(terms, remap[term_of], docs, tf, self.lengths[keep_rows])

    def _from_triples(self, terms: list[str], term_of: np.ndarray, docs: np.ndarray, tf: np.ndarray,
                      lengths: np.ndarray) -> Bm25Index:
        order = np.lexsort((docs, term_of))
        counts = np.bincount(term_of, minlength=len(terms)) if len(terms) else np.zeros(0, np.int64)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return Bm25Index(terms, ptr, docs[order], tf[order], lengths, self.k1, self.b)

    # --- scoring -------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.lengths)

    def idf(self, term_id: int) -> float:
        df = self.ptr[term_id + 1] - self.ptr[term_id]
        return float(np.log(1.0 + (self.size - df + 0.5) / (df + 0.5)))

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row for a query given as terms (zero where no term matches)."""
        scores = np.zeros(self.size, np.float32)
        if self.size == 0:
            return scores
        if self._norm is None:
            avg = float(self.lengths.mean()) or 1.0
            self._norm = (self.k1 * (1.0 - self.b + self.b * self.lengths / avg)).astype(np.float32)
        for term, count in Counter(query_terms).items():
            term_id = self.term_ids.get(term)
            if term_id is None:
                continue
            lo, hi = self.ptr[term_id], self.ptr[term_id + 1]
            docs, tf = self.docs[lo:hi], self.tf[lo:hi]
            scores[docs] += count * self.idf(term_id) * tf * (self.k1 + 1.0) / (tf + self._norm[docs])
        return scores

    # --- persistence ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """``terms.json`` (UTF-8 vocabulary) and ``postings.npz`` (ptr, docs, tf, lengths) in ``folder``."""
        (folder / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False), encoding="utf-8")
        with (folder / "postings.npz").open("wb") as fh:
            np.savez(fh, ptr=self.ptr, docs=self.docs, tf=self.tf, lengths=self.lengths)

    @classmethod
    def load(cls, folder: Path, k1: float = K1, b: float = B) -> Bm25Index:
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        with np.load(folder / "postings.npz", allow_pickle=False) as data:
            return cls(terms, data["ptr"], data["docs"], data["tf"], data["lengths"], k1, b)
