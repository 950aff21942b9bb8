"""A passage index: passage rows, their BM25 postings and dense vectors, and a manifest, kept together.

Files of one generation (see ``carelm.retrieval.storage``): ``manifest.json`` (scope, encoder, dimensions,
document and passage counts, tokenizer, build and update times), ``passages.jsonl`` (one passage per row:
id, document id, start, end, text, metadata), ``terms.json`` and ``postings.npz`` (BM25) and
``vectors.usearch`` (dense).  Row ``i`` of every file is passage ``i``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from carelm.core.errors import ConfigError
from carelm.retrieval.bm25 import K1, B, Bm25Index
from carelm.retrieval.search import rank
from carelm.retrieval.tokenize import TokenizerConfig, tokenize
from carelm.retrieval.vectors import Encoder, VectorIndex

KIND = "carelm-passage-index"
VERSION = 1
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
ENCODE_CHUNK = 256


@dataclass(frozen=True, slots=True)
class EncoderInfo:
    """The dense encoder an index was built with; queries must be embedded by the same one."""

    name: str
    dimensions: int
    encode: Encoder


@dataclass
class PassageIndex:
    """Passages of one scope with BM25 postings and dense vectors, row-aligned."""

    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    bm25: Bm25Index
    vectors: VectorIndex
    _columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def tokenizer(self) -> TokenizerConfig:
        return TokenizerConfig.from_dict(self.manifest.get("tokenizer", {}))

    @property
    def size(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, scope: str, encoder: EncoderInfo, tokenizer: TokenizerConfig = TokenizerConfig(),
              options: dict[str, Any] | None = None) -> PassageIndex:
        now = _now()
        manifest = {"kind": KIND, "version": VERSION, "scope": scope, "encoder": encoder.name,
                    "dimensions": encoder.dimensions, "metric": "cos", "tokenizer": tokenizer.to_dict(),
                    "bm25": {"k1": K1, "b": B},
                    "options": dict(options or {}), "built_at": now, "updated_at": now,
                    "documents": 0, "passages": 0}
        return cls(manifest, [], Bm25Index.build([]), VectorIndex(np.zeros((0, encoder.dimensions), np.float32)))

    # --- changing ------------------------------------------------------------------------------
    def add(self, rows: Sequence[dict[str, Any]], encoder: EncoderInfo, *, lexical_texts: Sequence[str] | None = None,
            dense_texts: Sequence[str] | None = None, vectors: np.ndarray | None = None,
            progress: Callable[[int], None] | None = None) -> PassageIndex:
        """A new index with ``rows`` appended.

        BM25 reads ``lexical_texts`` and the encoder ``dense_texts`` (both default to the rows' text);
        ``vectors`` given (e.g. cached embeddings of ``dense_texts``) skip the encoder.
        """
        self.check_encoder(encoder)
        texts = [row["text"] for row in rows]
        config = self.tokenizer
        bm25 = self.bm25.add([tokenize(text, config) for text in (lexical_texts or texts)])
        if vectors is None:
            vectors = _encode_all(encoder, list(dense_texts or texts), progress)
        elif len(vectors) != len(rows):
            raise ValueError(f"{len(vectors)} vectors for {len(rows)} passages")
        vectors = self.vectors.add(vectors)
        return self._replaced(self.rows + list(rows), bm25, vectors)

    def remove(self, drop: np.ndarray) -> PassageIndex:
        """A new index without the rows where ``drop`` is true."""
        drop = np.asarray(drop, bool)
        rows = [row for row, gone in zip(self.rows, drop, strict=True) if not gone]
        return self._replaced(rows, self.bm25.remove(drop), self.vectors.remove(drop))

    def _replaced(self, rows: list[dict], bm25: Bm25Index, vectors: VectorIndex) -> PassageIndex:
        manifest = dict(self.manifest, passages=len(rows), documents=len({r["document_id"] for r in rows}),
                        updated_at=_now())
        return PassageIndex(manifest, rows, bm25, vectors)

    def check_encoder(self, encoder: EncoderInfo) -> None:
        if (self.manifest["encoder"], self.manifest["dimensions"]) != (encoder.name, encoder.dimensions):
            raise ConfigError(f"index was built with encoder {self.manifest['encoder']!r} "
                              f"({self.manifest['dimensions']} dimensions), not {encoder.name!r}; rebuild it")

    # --- reading -------------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """One metadata field of every row as an object array (cached), for filters."""
        if name not in self._columns:
            values = [row["metadata"].get(name) for row in self.rows]
            self._columns[name] = np.array(values + [None], dtype=object)[:-1]
        return self._columns[name]

    def search(self, query: str, query_vector: Callable[[], np.ndarray], *, mode: str, k: int,
               mask: np.ndarray | None = None, **fusion: Any) -> list[tuple[int, float]]:
        """``(row, score)`` of the ``k`` best rows (best first) among those ``mask`` allows."""
        lexical = self.bm25.scores(tokenize(query, self.tokenizer)) if mode != "dense" else None
        vector = query_vector() if mode != "bm25" else None
        return rank(lexical, vector, self.vectors, mode=mode, k=k, mask=mask, **fusion)

    # --- persistence ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write every file into ``folder`` (a fresh generation folder)."""
        (folder / MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
        with (folder / PASSAGES).open("w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.bm25.save(folder)
        self.vectors.save(folder)

    @classmethod
    def load(cls, folder: Path) -> PassageIndex:
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("kind") != KIND:
                raise ConfigError("not a carelm passage index", location=str(folder / MANIFEST))
            with (folder / PASSAGES).open(encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
            params = manifest.get("bm25", {})
            bm25 = Bm25Index.load(folder, **params)
            vectors = VectorIndex.load(folder, int(manifest["dimensions"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"index files are unreadable ({type(exc).__name__}); rebuild the index",
                              location=str(folder)) from None
        if not len(rows) == bm25.size == vectors.size:
            raise ConfigError("index files disagree on the number of passages; rebuild the index",
                              location=str(folder))
        return cls(manifest, rows, bm25, vectors)


def _encode_all(encoder: EncoderInfo, texts: list[str], progress: Callable[[int], None] | None) -> np.ndarray:
    parts = [np.zeros((0, encoder.dimensions), np.float32)]
    for start in range(0, len(texts), ENCODE_CHUNK):
        chunk = texts[start : start + ENCODE_CHUNK]
        parts.append(np.asarray(encoder.encode(chunk), np.float32))
        if progress is not None:
            progress(len(chunk))
    return np.vstack(parts)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
