"""Finding input files and choosing the reader for each.

A folder is walked in sorted order; hidden entries, symlinked folders and symlinks that
resolve outside the folder are skipped so an input folder cannot pull in other files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from carelm.core.errors import InputError
from carelm.ingest.base import Reader
from carelm.ingest.fhir import FhirBundleReader
from carelm.ingest.jsonl import JsonlReader
from carelm.ingest.tabular import CsvMapping, CsvReader
from carelm.ingest.text import TextReader

log = logging.getLogger(__name__)

FORMATS = ("text", "jsonl", "csv", "fhir")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".json": "fhir",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
}


def format_for(path: Path) -> str | None:
    """The input format implied by the file's extension, or ``None`` if it is not a known one."""
    return EXTENSIONS.get(path.suffix.lower())


def iter_input_files(path: Path) -> Iterator[Path]:
    """Yield ``path`` itself if it is a file, else the known-format files under it in sorted order."""
    if not path.exists():
        raise InputError("input path does not exist", location=str(path))
    if not path.is_dir():
        yield path
        return
    yield from _walk(path, path.resolve())


def _walk(folder: Path, root: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        log.warning("%s: cannot list folder (%s)", folder, exc.strerror)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child = folder / entry.name
        if entry.is_symlink():
            if not _inside(child, root) or child.is_dir():
                log.debug("%s: skipped symlink", child)
                continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(child, root)
        elif child.is_file() and format_for(child) is not None:
            yield child
        else:
            log.debug("%s: skipped, not a file of a known format", child)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def reader_for(
    path: Path,
    *,
    format: str | None,
    csv_mapping: CsvMapping | None = None,
    patient: str | None = None,
    kind: str = "note",
    root: Path | None = None,
) -> Reader:
    """Build the reader for one file: the explicit ``format`` if given, else the one its extension implies."""
    name = format.lower() if format else format_for(path)
    if format and name not in FORMATS:
        raise InputError(f"unknown input format '{format}'; accepted formats: {', '.join(FORMATS)}")
    if name is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise InputError(
            f"unknown file extension; accepted formats: {', '.join(FORMATS)} (recognised extensions: {known})",
            location=str(path),
        )
    if name == "jsonl":
        return JsonlReader()
    if name == "csv":
        return CsvReader(csv_mapping or CsvMapping())
    if name == "fhir":
        return FhirBundleReader()
    return TextReader(patient=patient, kind=kind, root=root)
