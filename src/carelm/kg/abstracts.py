"""Reading article abstracts for literature mining: BEIR-style JSONL, PubTator, or PubMedQA JSON.

- JSONL (``.jsonl``, ``.ndjson``, or any file whose first line is an object): one article a line with an id
  (``_id``, ``id`` or ``pmid``), an optional ``title`` and the body in ``abstract`` or ``text``; other
  fields are ignored (the BEIR corpus layout of SciFact).
- PubTator (any other text file): ``id|t|title`` and ``id|a|abstract`` lines, read by
  :func:`carelm.lab.data.read_pubtator` (its mention and relation lines are not used here).
- PubMedQA (``.json``): an object keyed by PMID whose values hold ``QUESTION`` (used as the title, as PubMedQA
  questions are drawn from titles), ``CONTEXTS`` (the abstract's sections) and ``LONG_ANSWER`` (its conclusion).

A bad line raises :class:`~carelm.core.errors.InputError` at ``file:line``; messages never quote the text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError

ID_FIELDS = ("_id", "id", "pmid")
BODY_FIELDS = ("abstract", "text")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class Abstract:
    """One article: its id (a PMID or corpus id), title and abstract."""

    id: str
    title: str
    abstract: str

    @property
    def text(self) -> str:
        """Title and abstract as one text, the title on a line of its own so it is its own sentence."""
        return f"{self.title}\n\n{self.abstract}" if self.title else self.abstract


def read_abstracts(path: str | Path) -> Iterator[Abstract]:
    """The abstracts in ``path`` (JSONL, PubTator or PubMedQA JSON, see the module docstring), in file order."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _pubmedqa(path)
    if path.suffix.lower() in _JSONL_SUFFIXES or _first_char(path) == "{":
        return _jsonl(path)
    return _pubtator(path)


def _first_char(path: Path) -> str:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    return line.lstrip()[0]
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", location=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("file is not valid UTF-8", location=str(path)) from None
    return ""


def _jsonl(path: Path) -> Iterator[Abstract]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    yield _abstract_of(_json_line(line, f"{path}:{line_no}"), f"{path}:{line_no}")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", location=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("file is not valid UTF-8", location=str(path)) from None


def _json_line(line: str, location: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at column {exc.colno}", location=location) from None
    if not isinstance(obj, dict):
        raise InputError("expected one JSON object per line", location=location)
    return obj


def _abstract_of(obj: dict[str, Any], location: str) -> Abstract:
    raw_id = next((obj[key] for key in ID_FIELDS if obj.get(key) not in (None, "")), None)
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise InputError(f"an article needs a string or integer id in one of {list(ID_FIELDS)}", location=location)
    title = obj.get("title") or ""
    body = next((obj[key] for key in BODY_FIELDS if key in obj), None)
    if not isinstance(title, str) or not isinstance(body, str):
        raise InputError(f"'title' and the body ({' or '.join(BODY_FIELDS)}) must be strings; the body is required",
                         location=location)
    if not (title.strip() or body.strip()):
        raise InputError("an article needs a non-empty title or body", location=location)
    return Abstract(str(raw_id), title.strip(), body.strip())


def _pubtator(path: Path) -> Iterator[Abstract]:
    from carelm.lab.data import read_pubtator

    for document in read_pubtator(path):
        yield Abstract(document.id, document.title.strip(), document.abstract.strip())


def _pubmedqa(path: Path) -> Iterator[Abstract]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", location=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("file is not valid UTF-8", location=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", location=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError("expected an object keyed by PMID (PubMedQA layout)", location=str(path))
    for pmid, entry in data.items():
        location = f"{path}: entry {pmid}"
        contexts = entry.get("CONTEXTS") if isinstance(entry, dict) else None
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise InputError("each entry needs 'CONTEXTS', a list of strings", location=location)
        question, conclusion = entry.get("QUESTION") or "", entry.get("LONG_ANSWER") or ""
        if not isinstance(question, str) or not isinstance(conclusion, str):
            raise InputError("'QUESTION' and 'LONG_ANSWER' must be strings", location=location)
        yield Abstract(str(pmid), question.strip(), " ".join([*contexts, conclusion]).strip())
