"""Finding input files and choosing the reader for each.

A folder is walked in sorted order; hidden entries and files of unknown formats are skipped.
Links inside the folder to folders inside it are skipped (their files are read once, where they
are).  What must not be read at all (a link to anything outside the folder, a FIFO or device file
with a known extension, a file over the size limit) is still yielded, and ``reader_for`` turns it
into one issue naming the rule, so the refusal is reported rather than silently dropped
(see ``carelm.ingest.safety``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from carelm.core.errors import InputError
from carelm.ingest.base import IngestIssue, Reader, ReaderOutput
from carelm.ingest.fhir import FhirBundleReader
from carelm.ingest.jsonl import JsonlReader
from carelm.ingest.safety import MAX_FILE_BYTES, inside, refusal
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
            if not inside(child, root):
                yield child  # refused by reader_for, with the reason
                continue
            if child.is_dir():
                log.debug("%s: skipped link to a folder inside the input", child)
                continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(child, root)
        elif format_for(child) is not None:
            yield child  # a FIFO or device file is refused by reader_for
        else:
            log.debug("%s: skipped, not a file of a known format", child)


class RefusedInput:
    """The reader of a path that must not be read: it yields one issue with the reason."""

    format = "refused"

    def __init__(self, reason: str):
        self.reason = reason

    def read(self, path: Path) -> ReaderOutput:
        yield IngestIssue(str(path), self.reason)


def reader_for(
    path: Path,
    *,
    format: str | None,
    csv_mapping: CsvMapping | None = None,
    patient: str | None = None,
    kind: str = "note",
    root: Path | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Reader:
    """Build the reader for one file: the explicit ``format`` if given, else the one its extension implies.

    A path that must not be read (outside ``root``, not a regular file, over ``max_file_bytes``) gets a
    reader that reports why instead.
    """
    reason = refusal(path, root, max_file_bytes) if os.path.lexists(path) else None  # missing: the reader says so
    if reason is not None:
        log.warning("input file refused", extra={"location": str(path)})
        return RefusedInput(reason)
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
        return JsonlReader(max_bytes=max_file_bytes)
    if name == "csv":
        return CsvReader(csv_mapping or CsvMapping(), max_bytes=max_file_bytes)
    if name == "fhir":
        return FhirBundleReader(max_bytes=max_file_bytes)
    return TextReader(patient=patient, kind=kind, root=root, max_bytes=max_file_bytes)
