"""Literature readers: BEIR-style JSONL and MEDLINE/PubMed XML, yielding ``LiteratureDoc``s.

JSONL: one object per line with ``_id`` and ``text`` (strings) and an optional ``title`` (BEIR's
corpus.jsonl).  PubMed XML: ``PubmedArticleSet/PubmedArticle`` elements; the document id is the
``MedlineCitation/PMID``, the title ``ArticleTitle`` and the text the ``AbstractText`` parts joined by
newlines, each prefixed by its ``Label`` when it has one ("METHODS: ...").  Inline markup inside those
elements (``<i>``, ``<sup>``) keeps its text.  Both accept gzip-compressed files (``.gz``).  Bad input is an
``InputError`` whose location is ``file:line``; duplicate ids are refused.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from carelm.core.errors import InputError

FORMATS = ("jsonl", "pubmed")


@dataclass(frozen=True, slots=True)
class LiteratureDoc:
    """One literature document; its stored text is ``title + "\\n" + text`` (see ``full_text``)."""

    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        return self.title + "\n" + self.text


def detect_format(path: Path) -> str:
    """``jsonl`` or ``pubmed`` from the file name (``.jsonl``, ``.xml``, optionally ``.gz``)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    if name.endswith(".xml"):
        return "pubmed"
    raise InputError("unknown literature format: expected .jsonl (BEIR) or .xml (PubMed), optionally .gz",
                     location=str(path))


def corpus_files(path: Path) -> list[Path]:
    """``[path]`` for a file; for a folder, its ``.jsonl``/``.xml`` files (optionally ``.gz``) in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_corpus(p))
        if not files:
            raise InputError("no .jsonl or .xml files (optionally .gz) in this folder", location=str(path))
        return files
    if not path.is_file():
        raise InputError("no such file or folder", location=str(path))
    return [path]


def _is_corpus(path: Path) -> bool:
    try:
        detect_format(path)
    except InputError:
        return False
    return True


def read_corpus(path: Path, fmt: str | None = None, seen: dict[str, str] | None = None) -> Iterator[LiteratureDoc]:
    """The documents of one corpus file, in file order.

    A duplicate id is an InputError; ``seen`` (id -> where) carries ids across several files.
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown literature format {fmt!r}; accepted: {', '.join(FORMATS)}", location=str(path))
    seen = {} if seen is None else seen
    reader = read_beir_jsonl if fmt == "jsonl" else read_pubmed_xml
    for doc, where in reader(path):
        if doc.id in seen:
            raise InputError(f"duplicate document id {doc.id!r} (first at {seen[doc.id]})", location=where)
        seen[doc.id] = where
        yield doc


def _open(path: Path) -> IO[str]:
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot open ({type(exc).__name__})", location=str(path)) from None


def read_beir_jsonl(path: Path) -> Iterator[tuple[LiteratureDoc, str]]:
    """``(doc, "file:line")`` for each non-blank line of a BEIR corpus file."""
    with _open(path) as fh:
        try:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    where = f"{path}:{number}"
                    yield _beir_doc(line, where), where
        except (UnicodeDecodeError, EOFError, OSError) as exc:
            raise InputError(f"cannot read as UTF-8 JSONL ({type(exc).__name__})", location=str(path)) from None


def _beir_doc(line: str, where: str) -> LiteratureDoc:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", location=where) from None
    if not isinstance(data, dict):
        raise InputError("each line must be a JSON object with '_id', 'text' and optional 'title'", location=where)
    doc_id, title, text = data.get("_id"), data.get("title", ""), data.get("text")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InputError("'_id' must be a non-empty string", location=where)
    if not isinstance(text, str):
        raise InputError("'text' must be a string", location=where)
    if title is None:
        title = ""
    if not isinstance(title, str):
        raise InputError("'title' must be a string when given", location=where)
    return LiteratureDoc(doc_id.strip(), title.strip(), text.strip())


def read_pubmed_xml(path: Path) -> Iterator[tuple[LiteratureDoc, str]]:
    """``(doc, "file:line")`` for each ``PubmedArticle``, the line being where the article starts."""
    parser = ET.XMLPullParser(events=("start", "end"))
    started_at: int | None = None
    number = 0
    with _open(path) as fh:
        try:
            for number, line in enumerate(fh, 1):
                parser.feed(line)
                for event, element in parser.read_events():
                    if element.tag != "PubmedArticle":
                        continue
                    if event == "start":
                        started_at = number
                    else:
                        where = f"{path}:{started_at}"
                        yield _pubmed_doc(element, where), where
                        element.clear()
            parser.close()
        except ET.ParseError as exc:
            line_no = exc.position[0] if exc.position else number
            raise InputError(f"malformed XML ({_parse_message(exc)})", location=f"{path}:{line_no}") from None
        except (UnicodeDecodeError, EOFError, OSError) as exc:
            raise InputError(f"cannot read as UTF-8 XML ({type(exc).__name__})", location=str(path)) from None
    if started_at is None:
        raise InputError("no PubmedArticle element found (expected a PubmedArticleSet)", location=str(path))


def _parse_message(exc: ET.ParseError) -> str:
    return str(exc).split(":")[0]


def _pubmed_doc(article: ET.Element, where: str) -> LiteratureDoc:
    pmid = article.find("MedlineCitation/PMID")
    doc_id = _text(pmid)
    if not doc_id:
        raise InputError("PubmedArticle without MedlineCitation/PMID", location=where)
    title = _text(article.find("MedlineCitation/Article/ArticleTitle"))
    parts = []
    for part in article.findall("MedlineCitation/Article/Abstract/AbstractText"):
        body = _text(part)
        label = (part.get("Label") or "").strip()
        if body:
            parts.append(f"{label}: {body}" if label else body)
    return LiteratureDoc(doc_id, title, "\n".join(parts))


def _text(element: ET.Element | None) -> str:
    """All text inside ``element`` (inline markup included), whitespace runs collapsed."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def read_queries(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of each line of a BEIR queries file (``{"_id", "text"}``); bad lines are InputErrors."""
    queries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for query, where in read_beir_jsonl(path):
        if not query.text:
            raise InputError("'text' is empty", location=where)
        if query.id in seen:
            raise InputError(f"duplicate query id {query.id!r}", location=where)
        seen.add(query.id)
        queries.append((query.id, query.text))
    return queries
