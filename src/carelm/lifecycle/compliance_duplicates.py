"""Duplicate notes: the same de-identified text, or nearly the same (copy-forward, re-sent documents).

Exact duplicates share the SHA-256 of their text after lower-casing and collapsing white space.  Near
duplicates are found with MinHash over word shingles (``shingle_words`` words each) and banded
locality-sensitive hashing; every candidate pair is then confirmed by the exact Jaccard similarity of
the shingle sets, so the reported similarity is exact and no pair below ``threshold`` is reported.
Texts shorter than ``min_words`` words are left out of the near-duplicate search.  Only ids and
similarities are returned, never text.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations
from typing import Any

import numpy as np

WORD = re.compile(r"\w+")
PERMUTATIONS = 64
BANDS = 16  # 16 bands of 4 rows: pairs above about 0.5 similarity almost always share a band
_ROWS = PERMUTATIONS // BANDS
_RNG = np.random.default_rng(20240601)
_A = _RNG.integers(1, 2**32, PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**32, PERMUTATIONS, dtype=np.uint64)


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def shingles(text: str, size: int) -> set[int]:
    """32-bit hashes of the word ``size``-grams of the lower-cased text."""
    words = WORD.findall(text.lower())
    return {zlib.crc32(" ".join(words[i:i + size]).encode("utf-8")) for i in range(len(words) - size + 1)}


def minhash(values: set[int]) -> np.ndarray:
    """The MinHash signature (multiply-shift hashes, one per permutation) of a non-empty shingle set."""
    x = np.fromiter(values, dtype=np.uint64, count=len(values))
    return ((x[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)).min(axis=0)


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def find_duplicates(texts: Iterable[tuple[str, str]], *, shingle_words: int = 5, threshold: float = 0.8,
                    min_words: int = 20) -> dict[str, Any]:
    """Exact groups and near-duplicate pairs among ``(note_id, text)`` items."""
    exact: dict[str, list[str]] = defaultdict(list)
    sets: dict[str, set[int]] = {}
    for note_id, text in texts:
        exact[hashlib.sha256(normalised(text).encode("utf-8")).hexdigest()].append(note_id)
        if len(WORD.findall(text)) >= min_words:
            sets[note_id] = shingles(text, shingle_words)
    groups = sorted(sorted(ids) for ids in exact.values() if len(ids) > 1)
    same_text = {note_id: index for index, ids in enumerate(groups) for note_id in ids}
    near = []
    for a, b in sorted(_candidates(sets)):
        if a in same_text and same_text[a] == same_text.get(b):
            continue
        similarity = jaccard(sets[a], sets[b])
        if similarity >= threshold:
            near.append({"notes": [a, b], "similarity": round(similarity, 4)})
    return {"exact_groups": len(groups), "near_pairs": len(near),
            "notes_in_exact_groups": sum(len(ids) for ids in groups), "exact": groups, "near": near}


def _candidates(sets: dict[str, set[int]]) -> set[tuple[str, str]]:
    buckets: dict[tuple[int, bytes], list[str]] = defaultdict(list)
    for note_id, values in sets.items():
        if not values:
            continue
        signature = minhash(values)
        for band in range(BANDS):
            buckets[(band, signature[band * _ROWS:(band + 1) * _ROWS].tobytes())].append(note_id)
    pairs: set[tuple[str, str]] = set()
    for ids in buckets.values():
        if len(ids) > 1:
            pairs.update(tuple(sorted(pair)) for pair in combinations(sorted(set(ids)), 2))
    return pairs
