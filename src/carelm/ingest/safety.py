"""Safe handling of input files: nothing outside the ingested folder, regular files only, bounded size.

* A path (or a symbolic link) that resolves outside the ingested folder is refused, never followed.
* FIFOs, sockets and device files are refused without being opened for reading (opening a FIFO would
  block until some other process writes to it; reading a device may never end).
* A file larger than the per-file limit is refused before it is read, and a file that grows past the
  limit while it is read is refused too.

Readers open files through ``open_input``/``read_input``; discovery asks ``refusal`` about each path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from carelm.core.errors import InputError, PayloadTooLarge

# Largest input file read by default: bigger single files are refused (split them, or raise the limit).
MAX_FILE_BYTES = 1 << 30

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


class UnsafeInput(InputError):
    """An input path that must not be read: outside the ingested folder, not a regular file, or too large."""


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symbolic link resolved, lies within ``root`` (also resolved)."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))
    except (OSError, ValueError):
        return False


def special_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", "a character device", ...), or ``None``."""
    for test, name in _SPECIAL_KINDS:
        if test(mode):
            return name
    return None


def refusal(path: Path, root: Path | None = None, max_bytes: int = MAX_FILE_BYTES) -> str | None:
    """Why ``path`` must not be read as an input file (a message naming the rule), or ``None`` if it may."""
    try:
        link = os.lstat(path)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or type(exc).__name__}"
    is_link = stat.S_ISLNK(link.st_mode)
    if root is not None and not inside(path, root):
        if is_link:
            return "symbolic link to a location outside the ingested folder; refused, not followed"
        return "path lies outside the ingested folder; refused"
    try:
        target = os.stat(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"cannot read file: {'broken symbolic link, ' if is_link else ''}{reason}"
    kind = special_kind(target.st_mode)
    if kind is not None:
        return f"{'symbolic link to ' if is_link else ''}{kind}, not a regular file; refused"
    if target.st_size > max_bytes:
        return _too_large(target.st_size, max_bytes)
    return None


def _too_large(size: int, max_bytes: int) -> str:
    return f"file is {size} bytes, larger than the per-file limit of {max_bytes} bytes; refused (split it)"


def open_input(path: Path, max_bytes: int = MAX_FILE_BYTES) -> BinaryIO:
    """Open a regular file for binary reading; raise ``UnsafeInput`` for anything else or a file too large.

    Symbolic links are resolved first and the resolved path is opened with ``O_NOFOLLOW``, so a link
    swapped in after the check is refused rather than followed; ``O_NONBLOCK`` keeps a FIFO from
    blocking the open.  ``OSError`` (missing file, no permission) is left to the caller.
    """
    fd = os.open(os.path.realpath(path), _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = special_kind(info.st_mode) or "a special file"
            raise UnsafeInput(f"{kind}, not a regular file; refused", location=str(path))
        if info.st_size > max_bytes:
            raise PayloadTooLarge(_too_large(info.st_size, max_bytes), location=str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes (see ``open_input``)."""
    with open_input(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"file grew past the per-file limit of {max_bytes} bytes while read; refused",
                              location=str(path))
    return data


def input_issue_message(exc: OSError | InputError) -> str:
    """The issue text for a file that could not be opened (never the file's content)."""
    if isinstance(exc, InputError):
        return exc.message
    return f"cannot read file: {exc.strerror or type(exc).__name__}"
