"""Where indexes live under the data folder, and a per-process cache of loaded ones.

Layout: ``<data_dir>/index/records/`` (the records index) and ``<data_dir>/index/literature/<name>/`` (one
per literature corpus).  Each is a folder of generations (``carelm.retrieval.storage``).  The cache keeps
the loaded generation of each folder and reloads it when ``CURRENT`` names another one, so a server sees
an index rebuilt by the command line at its next search.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from carelm.core.errors import ConfigError, InputError
from carelm.retrieval.index import PassageIndex
from carelm.retrieval.storage import current_generation, write_generation

INDEX_DIR = "index"
RECORDS = "records"
LITERATURE = "literature"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def records_folder(data_dir: Path) -> Path:
    return Path(data_dir) / INDEX_DIR / RECORDS


def literature_folder(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / INDEX_DIR / LITERATURE / check_name(name)


def check_name(name: str) -> str:
    """A literature index name: letters, digits, ``_ . -``, at most 64 characters, not starting with a sign."""
    if not _NAME.match(name or ""):
        raise InputError(f"invalid index name {name!r}: use letters, digits, '_', '.' or '-' (at most 64)",
                         location="name")
    return name


def literature_names(data_dir: Path) -> list[str]:
    """Names of the literature indexes that have a current generation, sorted."""
    root = Path(data_dir) / INDEX_DIR / LITERATURE
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name) and (p / "CURRENT").is_file())


class IndexCache:
    """Loaded indexes by folder, each with the generation it was loaded from."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple[Path, PassageIndex]] = {}
        self._lock = threading.Lock()

    def get(self, folder: Path) -> PassageIndex | None:
        """The current index in ``folder`` (loaded on first use or after a change), or None if there is none."""
        folder = Path(folder)
        generation = current_generation(folder)
        with self._lock:
            if generation is None:
                self._loaded.pop(folder, None)
                return None
            cached = self._loaded.get(folder)
            if cached is not None and cached[0] == generation:
                return cached[1]
        try:
            index = PassageIndex.load(generation)
        except ConfigError:
            if current_generation(folder) == generation:
                raise
            return self.get(folder)  # replaced while loading: load the newer one
        with self._lock:
            self._loaded[folder] = (generation, index)
        return index

    def save(self, folder: Path, index: PassageIndex) -> Path:
        """Write ``index`` as the new generation of ``folder`` and keep it loaded."""
        generation = write_generation(Path(folder), index.save)
        with self._lock:
            self._loaded[Path(folder)] = (generation, index)
        return generation

    def forget(self, folder: Path) -> None:
        with self._lock:
            self._loaded.pop(Path(folder), None)


CACHE = IndexCache()
