"""Index folders that change atomically: generations and a ``CURRENT`` pointer.

An index named by ``folder`` keeps its files in a generation sub-folder (``g<time>-<pid>``).  A writer fills
``<generation>.partial``, renames it to ``<generation>``, then replaces ``CURRENT`` (a one-line file, written to
``CURRENT.partial`` and moved with ``os.replace``).  Readers therefore see the old index or the new one, never
a mix.  After the switch every other generation is deleted, so a replaced or edited index leaves no older
copy of its postings, vectors or text on disk.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is then the caller's duty
    fcntl = None  # type: ignore[assignment]

from carelm.core.errors import ConfigError, NotFoundError

POINTER = "CURRENT"
PARTIAL = ".partial"
LOCK = "LOCK"
STALE_PARTIAL_S = 3600


def current_generation(folder: Path) -> Path | None:
    """The generation folder ``CURRENT`` names, or None when there is no index in ``folder``."""
    pointer = folder / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read index pointer ({type(exc).__name__})", location=str(pointer)) from None
    generation = folder / name
    if not name or "/" in name or not generation.is_dir():
        raise ConfigError("index pointer names no generation folder; rebuild the index", location=str(pointer))
    return generation


def require_generation(folder: Path, what: str) -> Path:
    generation = current_generation(folder)
    if generation is None:
        raise NotFoundError(f"no {what} index at {folder}; build it first (carelm index ...)")
    return generation


def write_generation(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Create a new generation by calling ``fill(partial_folder)``, make it current, delete the others."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"g{time.time_ns():x}-{os.getpid()}"
    partial = folder / (name + PARTIAL)
    partial.mkdir()
    try:
        fill(partial)
        _fsync_files(partial)
        generation = folder / name
        os.replace(partial, generation)
        pointer = folder / (POINTER + PARTIAL)
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, folder / POINTER)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    prune(folder, keep=name)
    return generation


def prune(folder: Path, keep: str | None) -> None:
    """Delete every finished generation except ``keep``, and unfinished ones left over by a crash."""
    for child in folder.iterdir():
        if not child.is_dir() or child.name == keep or not child.name.startswith("g"):
            continue
        if child.name.endswith(PARTIAL) and time.time() - child.stat().st_mtime < STALE_PARTIAL_S:
            continue  # possibly another writer's work in progress
        shutil.rmtree(child, ignore_errors=True)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a ``LOCK`` file) for a read-modify-write of its index."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK).open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def delete_index(folder: Path) -> bool:
    """Remove an index folder entirely; False when there was none."""
    if not folder.exists():
        return False
    pointer = folder / POINTER
    pointer.unlink(missing_ok=True)
    shutil.rmtree(folder)
    return True


def _fsync_files(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
