"""Building the compiled resources: the terminology file and the ICD-10-CM embedding index."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.core.settings import Settings

INDEX_FOLDER = "indexes/icd10-minilm"


def default_shared_data() -> Path | None:
    """``$CARELM_SHARED_DATA`` or ``../shared/data`` when it exists (build scripts may read it; the package never)."""
    candidate = Path(os.environ.get("CARELM_SHARED_DATA", "../shared/data"))
    return candidate if candidate.is_dir() else None


def index_dir(settings: Settings) -> Path:
    return settings.data_dir / INDEX_FOLDER


def build_terminology(shared_data: Path | None, out: Path | None) -> dict[str, Any]:
    from carelm.extract.terminology_build import DEFAULT_OUT
    from carelm.extract.terminology_build import build_terminology as build

    if shared_data is not None and not shared_data.is_dir():
        raise InputError("shared data folder not found", location=str(shared_data))
    return build(shared_data, out or DEFAULT_OUT)


def build_icd_index(
    settings: Settings,
    out: Path | None,
    progress: Callable[[int], None] | None,
    *,
    tune: bool = True,
    epochs: int = 1,
    tune_progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Embed every billable ICD-10-CM code's names into a persisted vector index.

    With ``tune`` the packaged MiniLM is first tuned on the code set's synonym pairs (``carelm.coding.tune``)
    in a temporary folder that the index then holds; without, the packaged encoder embeds as shipped.
    """
    import tempfile

    from carelm.coding.codeset import synonym_pairs
    from carelm.coding.index import build_index
    from carelm.coding.tune import tune_encoder

    target = out or index_dir(settings)
    if not tune:
        return build_index(target, progress=progress)
    with tempfile.TemporaryDirectory(prefix="carelm-encoder-") as scratch:
        tune_encoder(Path(scratch), synonym_pairs(), epochs=epochs, progress=tune_progress)
        return build_index(target, progress=progress, encoder=Path(scratch))


def icd_index_rows() -> list:
    from carelm.coding.index import index_rows

    return index_rows()
