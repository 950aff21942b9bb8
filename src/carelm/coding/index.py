"""A persisted vector index of ICD-10-CM code names, embedded with MiniLM.

An index folder holds ``vectors.usearch`` (a usearch index, cosine metric, one row per text),
``rows.json`` (row -> ``[code, text]``), ``manifest.json`` (encoder, dimensions, counts, build time) and,
when it was built with a tuned encoder (``carelm.coding.tune``), that encoder in ``encoder/``, so queries
are always embedded by the model that embedded the rows.  Rows are a billable code's description and,
unless left out, its inclusion terms, "includes" notes and the excludes-note references naming it
(``carelm.coding.codeset``); a search ranks codes by the best similarity of any of their rows.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from carelm.core.errors import ConfigError

VECTORS = "vectors.usearch"
ROWS = "rows.json"
MANIFEST = "manifest.json"
ENCODER = "encoder"
KIND = "carelm-icd10-index"
_OVERFETCH = 4


def usearch_index() -> Any:
    """usearch's ``Index`` class, with ONNX Runtime (when installed) loaded first.

    The native libraries bundled by usearch and onnxruntime clash when onnxruntime is loaded second in the
    same process (the interpreter crashes); loaded in this order, both work.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    from usearch.index import Index

    return Index


def default_codes() -> list[str]:
    """Every billable ICD-10-CM code, in code order (a coder assigns billable codes, not their categories)."""
    import simple_icd_10_cm as icd

    return [code for code in icd.get_all_codes(True) if icd.is_leaf(code)]


def code_texts(code: str, inclusion_terms: bool = True) -> list[str]:
    """The texts a code is indexed under: its description, then inclusion terms, includes and the excludes-note
    references naming it, deduplicated."""
    import simple_icd_10_cm as icd

    texts = [icd.get_description(code)]
    if inclusion_terms:
        texts += [*icd.get_inclusion_term(code), *icd.get_includes(code), *_referenced_names().get(code, ())]
    seen: set[str] = set()
    return [text for text in texts if not (text.lower() in seen or seen.add(text.lower()))]


def index_rows(codes: Iterable[str] | None = None, inclusion_terms: bool = True) -> list[tuple[str, str]]:
    """``(code, text)`` rows for ``codes`` (default :func:`default_codes`); unknown codes are ConfigErrors."""
    import simple_icd_10_cm as icd

    selected = default_codes() if codes is None else list(codes)
    unknown = [code for code in selected if not icd.is_valid_item(code)]
    if unknown:
        raise ConfigError(f"{len(unknown)} unknown ICD-10-CM codes, e.g. {unknown[:3]}")
    rows = []
    for code in selected:
        code = icd.add_dot(code)
        rows += [(code, text) for text in code_texts(code, inclusion_terms)]
    return rows


def _referenced_names() -> dict[str, list[str]]:
    from carelm.coding.codeset import references

    names: dict[str, list[str]] = {}
    for name, code in references():
        names.setdefault(code, []).append(name)
    return names


def build_index(
    out_dir: Path,
    *,
    codes: list[str] | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    inclusion_terms: bool = True,
    encoder: str | Path | None = None,
) -> dict[str, Any]:
    """Embed the rows of ``codes`` (default: every billable code) into ``out_dir``.

    ``encoder`` is a tuned model folder (default the packaged MiniLM); it is copied into the index.
    ``progress`` is called with the number of rows embedded so far.  Returns the manifest.
    """
    Index = usearch_index()

    from carelm.coding.encoder import DIMENSIONS, encode

    rows = index_rows(codes, inclusion_terms)
    if not rows:
        raise ConfigError("no ICD-10-CM codes to index")
    out_dir = Path(out_dir)
    if encoder is not None:
        encoder = _copy_encoder(Path(encoder), out_dir / ENCODER)
    index = Index(ndim=DIMENSIONS, metric="cos", dtype="f32")
    chunk = max(1, batch_size) * 8
    for start in range(0, len(rows), chunk):
        texts = [text for _, text in rows[start : start + chunk]]
        keys = np.arange(start, start + len(texts), dtype=np.uint64)
        index.add(keys, encode(texts, batch_size=batch_size, model=encoder))
        if progress is not None:
            progress(start + len(texts))
    manifest = _manifest(rows, inclusion_terms, encoder)
    _save(out_dir, index, rows, manifest)
    return manifest


def _copy_encoder(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` (replacing an older copy); a folder without a model is a ConfigError."""
    if not (source / "config.json").is_file():
        raise ConfigError("tuned encoder not found", location=str(source))
    if source.resolve() != target.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    return target


def _manifest(rows: list[tuple[str, str]], inclusion_terms: bool, encoder: Path | None) -> dict[str, Any]:
    from carelm.coding.encoder import DIMENSIONS, MODEL_NAME, model_path

    tuned = None
    if encoder is not None and (encoder / "tune.json").is_file():
        tuned = json.loads((encoder / "tune.json").read_text(encoding="utf-8"))
    return {
        "kind": KIND,
        "version": 2,
        "model": MODEL_NAME,
        "model_path": str(model_path()),
        "encoder": ENCODER if encoder is not None else None,
        "tuning": tuned,
        "dimensions": DIMENSIONS,
        "metric": "cos",
        "count": len(rows),
        "codes": len({code for code, _ in rows}),
        "inclusion_terms": inclusion_terms,
        "icd10cm_package": _package_version("simple_icd_10_cm"),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _save(out_dir: Path, index: Any, rows: list[tuple[str, str]], manifest: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    index.save(str(out_dir / VECTORS))
    (out_dir / ROWS).write_text(json.dumps([list(row) for row in rows]), encoding="utf-8")
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


class IcdIndex:
    """A loaded index: search texts or vectors for the closest ICD-10-CM codes."""

    def __init__(
        self, index: Any, rows: list[tuple[str, str]], manifest: dict[str, Any], encoder: Path | None = None
    ) -> None:
        self.index, self.rows, self.manifest, self.encoder = index, rows, manifest, encoder

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds the three files of an index."""
        folder = Path(path)
        return all((folder / name).is_file() for name in (VECTORS, ROWS, MANIFEST))

    @classmethod
    def load(cls, path: str | Path) -> IcdIndex:
        """Load an index folder written by :func:`build_index`; a missing or broken one is a ConfigError."""
        Index = usearch_index()

        folder = Path(path)
        if not cls.exists(folder):
            raise ConfigError("ICD-10-CM index not found", location=str(folder))
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            rows = [(code, text) for code, text in json.loads((folder / ROWS).read_text(encoding="utf-8"))]
            index = Index.restore(str(folder / VECTORS))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"unreadable ICD-10-CM index: {type(exc).__name__}", location=str(folder)) from None
        if index is None or manifest.get("kind") != KIND or len(index) != len(rows):
            raise ConfigError("inconsistent ICD-10-CM index", location=str(folder))
        encoder = folder / manifest["encoder"] if manifest.get("encoder") else None
        if encoder is not None and not (encoder / "config.json").is_file():
            raise ConfigError("the index's tuned encoder is missing", location=str(encoder))
        return cls(index, rows, manifest, encoder)

    def __len__(self) -> int:
        return len(self.rows)

    def search_vectors(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each unit vector, up to ``k`` ``(code, cosine similarity)`` pairs, best first, one per code."""
        if len(vectors) == 0 or len(self.rows) == 0:
            return [[] for _ in range(len(vectors))]
        count = min(len(self.rows), k * _OVERFETCH)
        matches = self.index.search(np.asarray(vectors, dtype=np.float32), count)
        results = []
        for row in range(len(vectors)):
            found = matches[row] if len(vectors) > 1 else matches
            results.append(self._best_codes(found.keys, found.distances, k))
        return results

    def search(self, texts: Sequence[str], k: int, batch_size: int = 256) -> list[list[tuple[str, float]]]:
        """For each text, up to ``k`` ``(code, cosine similarity)`` pairs, best first."""
        from carelm.coding.encoder import encode

        return self.search_vectors(encode(texts, batch_size=batch_size, model=self.encoder), k)

    def warm_up(self) -> None:
        """Load the encoder that embeds queries for this index."""
        from carelm.coding.encoder import load_encoder

        load_encoder(self.encoder)

    def _best_codes(self, keys: np.ndarray, distances: np.ndarray, k: int) -> list[tuple[str, float]]:
        best: dict[str, float] = {}
        for key, distance in zip(keys.tolist(), distances.tolist(), strict=True):
            code, score = self.rows[int(key)][0], 1.0 - float(distance)
            if score > best.get(code, -2.0):
                best[code] = score
        return sorted(best.items(), key=lambda item: -item[1])[:k]
