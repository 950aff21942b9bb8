"""Training data for the model lab: classification files, CoNLL/IOB, PubTator, and train/dev splits.

Readers return plain Python examples and raise ``InputError`` at ``file:line`` on the first bad line;
messages name the field and what is accepted, never the text of the line.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from carelm.core.errors import InputError

log = logging.getLogger(__name__)

T = TypeVar("T")
Tokenizer = Callable[[str], list[tuple[int, int]]]
"""Maps a text to the character spans of its tokens."""

_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_LABELS_FALLBACK = "labels"
_LABEL_SEPARATOR = re.compile(r"[|;]")
_TAG = re.compile(r"O|[BI]-\S+")
_DOCSTART = "-DOCSTART-"
_PUBTATOR_TEXT = re.compile(r"([^|\t]+)\|([ta])\|(.*)")
_PUBTATOR_LINES = (
    "'id|t|title', 'id|a|abstract', a mention 'id<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>concept]' "
    "or a relation 'id<TAB>type<TAB>id1<TAB>id2'"
)
_SENTENCE_END = re.compile(r"\.\s+(?=[A-Z0-9])")
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class ClassifyExample:
    """One text with its label(s); single-label data has exactly one label per example."""

    text: str
    labels: tuple[str, ...]
    id: str | None = None


@dataclass(slots=True)
class TokenExample:
    """A tokenised sentence with one BIO tag per token.

    ``offsets``, when known, are the tokens' character spans in ``text`` (``text[start:end]`` is the token);
    ``repaired_tags`` counts the ``I-X`` tags a reader turned into ``B-X``.
    """

    tokens: list[str]
    tags: list[str]
    id: str | None = None
    offsets: list[tuple[int, int]] | None = None
    text: str | None = None
    repaired_tags: int = 0


class PubtatorMention(NamedTuple):
    """An annotated span of a document's ``text`` (``end`` exclusive) with its type and concept id(s)."""

    start: int
    end: int
    text: str
    type: str
    concept_id: str


class PubtatorRelation(NamedTuple):
    """A document-level relation between two concept ids, e.g. ``CID`` (chemical induces disease)."""

    type: str
    id1: str
    id2: str


@dataclass(slots=True)
class PubtatorDocument:
    """A PubMed title and abstract with its mentions and relations."""

    id: str
    title: str
    abstract: str = ""
    mentions: list[PubtatorMention] = field(default_factory=list)
    relations: list[PubtatorRelation] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Title and abstract joined by one space: the text that mention offsets point into."""
        return f"{self.title} {self.abstract}"


def _read_text(path: Path) -> str:
    """The whole file as text (UTF-8, BOM dropped); training files fit in memory."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", location=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("line is not valid UTF-8", location=f"{path}:{line}") from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Each line of a file with its 1-based number, line end removed."""
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):
        yield lineno, line.removesuffix("\r")


# --- classification -------------------------------------------------------------------------------


def read_classification(
    path: str | Path, text_field: str = "text", label_field: str = "label"
) -> list[ClassifyExample]:
    """Read labelled texts from JSONL (an object a line) or CSV/TSV (header row); blank lines are skipped.

    A label is a string (or integer) or, for multi-label data, a JSON list or a CSV cell ``a|b`` / ``a;b``.
    When ``label_field`` is absent, a ``labels`` field is used; an ``id`` field becomes the example id.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _JSONL_SUFFIXES:
        rows, split_cells = _jsonl_rows(path), False
    elif suffix in _CSV_DELIMITERS:
        rows, split_cells = _csv_rows(path, _CSV_DELIMITERS[suffix]), True
    else:
        accepted = ", ".join([*_JSONL_SUFFIXES, *_CSV_DELIMITERS])
        raise InputError(f"unsupported file type {suffix!r}; accepted: {accepted}", location=str(path))
    return [_classify_example(row, text_field, label_field, split_cells, location) for location, row in rows]


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        location = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg} at column {exc.colno}", location=location) from None
        if not isinstance(obj, dict):
            raise InputError("expected one JSON object per line", location=location)
        yield location, obj


def _csv_rows(path: Path, delimiter: str) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise InputError("expected a header row naming the columns", location=f"{path}:1")
        start = reader.line_num + 1
        for cells in reader:
            location, start = f"{path}:{start}", reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise InputError(
                    f"expected {len(header)} columns as in the header, found {len(cells)}", location=location
                )
            yield location, dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", location=f"{path}:{reader.line_num}") from None


def _classify_example(
    row: dict[str, Any], text_field: str, label_field: str, split_cells: bool, location: str
) -> ClassifyExample:
    text = row.get(text_field)
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"field {text_field!r}: must be a non-empty string", location=location)
    key = label_field if label_field in row else _LABELS_FALLBACK
    if key not in row:
        raise InputError(f"field {label_field!r}: required (or {_LABELS_FALLBACK!r})", location=location)
    labels = _labels(row[key], split_cells)
    if not labels:
        raise InputError(f"field {key!r}: expected a non-empty label or list of labels", location=location)
    raw_id = row.get("id")
    return ClassifyExample(text, labels, None if raw_id in (None, "") else str(raw_id))


def _labels(value: Any, split_cells: bool) -> tuple[str, ...]:
    """The labels in a field value, de-duplicated in order; empty when the value holds none."""
    if isinstance(value, str):
        parts = _LABEL_SEPARATOR.split(value) if split_cells else [value]
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [str(value)]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        parts = value
    else:
        return ()
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def label_set(examples: Iterable[ClassifyExample]) -> list[str]:
    """All labels used by the examples, sorted."""
    return sorted({label for example in examples for label in example.labels})


def is_multilabel(examples: Iterable[ClassifyExample]) -> bool:
    """True when some example has more than one label."""
    return any(len(example.labels) > 1 for example in examples)


# --- CoNLL / IOB ----------------------------------------------------------------------------------


def read_conll(path: str | Path) -> list[TokenExample]:
    """Read CoNLL/IOB: ``token<TAB or space>tag`` a line (the tag is the last column), sentences between blank lines.

    ``-DOCSTART-`` lines are skipped. Tags are ``O``, ``B-X`` or ``I-X``; an ``I-X`` that opens an entity
    (after ``O``, after another type, or first in a sentence) becomes ``B-X`` and is counted in ``repaired_tags``.
    """
    path = Path(path)
    examples: list[TokenExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    for lineno, line in _lines(path):
        if not line.strip() or line.startswith(_DOCSTART):
            if tokens:
                examples.append(TokenExample(tokens, tags, repaired_tags=_repair_tags(tags)))
                tokens, tags = [], []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        token, tag = columns[0].strip(), columns[-1].strip()
        if len(columns) < 2 or not token:
            raise InputError("expected 'token<TAB>tag' (or space-separated)", location=f"{path}:{lineno}")
        if not _TAG.fullmatch(tag):
            raise InputError("tag (last column) must be O, B-<type> or I-<type>", location=f"{path}:{lineno}")
        tokens.append(token)
        tags.append(tag)
    if tokens:
        examples.append(TokenExample(tokens, tags, repaired_tags=_repair_tags(tags)))
    repaired = sum(example.repaired_tags for example in examples)
    if repaired:
        log.warning("repaired I- tags that opened an entity", extra={"path": str(path), "repaired_tags": repaired})
    return examples


def _repair_tags(tags: list[str]) -> int:
    """Turn each ``I-X`` that does not continue an ``X`` entity into ``B-X``, in place; return how many."""
    repaired = 0
    previous = "O"
    for index, tag in enumerate(tags):
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tags[index] = f"B-{tag[2:]}"
            repaired += 1
        previous = tags[index]
    return repaired


# --- PubTator -------------------------------------------------------------------------------------


def read_pubtator(path: str | Path) -> list[PubtatorDocument]:
    """Read PubTator: ``id|t|title``, ``id|a|abstract``, then mention and relation lines; blank line between documents.

    Mention offsets index ``title + " " + abstract`` and are checked against the mention text.
    """
    path = Path(path)
    documents: list[PubtatorDocument] = []
    current: PubtatorDocument | None = None
    for lineno, line in _lines(path):
        location = f"{path}:{lineno}"
        if not line.strip():
            current = None
        elif match := _PUBTATOR_TEXT.fullmatch(line):
            doc_id, kind, body = match.groups()
            if kind == "t":
                current = PubtatorDocument(doc_id, body)
                documents.append(current)
            elif current is None or current.id != doc_id or current.abstract or current.mentions:
                raise InputError(f"abstract of document {doc_id} must follow its title line", location=location)
            else:
                current.abstract = body
        else:
            _add_annotation(current, line.split("\t"), location)
    return documents


def _add_annotation(document: PubtatorDocument | None, columns: list[str], location: str) -> None:
    if len(columns) < 4:
        raise InputError(f"expected {_PUBTATOR_LINES}", location=location)
    if document is None or columns[0] != document.id:
        raise InputError(
            "annotation must follow its document's title and abstract, with the same id", location=location
        )
    if len(columns) >= 5 and columns[1].isdigit() and columns[2].isdigit():
        start, end = int(columns[1]), int(columns[2])
        span = document.text[start:end]
        # The text column may carry stray spaces at its ends (NCBI train has one); the span is kept as is.
        if not start < end or span.strip() != columns[3].strip():
            raise InputError(
                f"mention offsets {start}-{end} do not match the mention text of document {document.id}",
                location=location,
            )
        concept = columns[5].strip() if len(columns) > 5 else ""
        document.mentions.append(PubtatorMention(start, end, span, columns[4].strip(), concept))
    elif columns[1].isdigit():
        raise InputError(f"expected {_PUBTATOR_LINES}", location=location)
    else:
        document.relations.append(PubtatorRelation(*(column.strip() for column in columns[1:4])))


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text``: runs of letters and digits, and each punctuation mark alone."""
    return [match.span() for match in _WORD.finditer(text)]


def pubtator_to_tokens(documents: Iterable[PubtatorDocument], tokenizer: Tokenizer = word_spans) -> list[TokenExample]:
    """One ``TokenExample`` per sentence with BIO tags from the mentions, ids ``"<document id>:<sentence>"``.

    Sentences end at the title and after ``. `` before a capital or digit, never inside a mention.
    Offsets index the document's ``text``; a token that a mention only partly covers is tagged all the same.
    """
    examples: list[TokenExample] = []
    for document in documents:
        text = document.text
        for number, (start, end) in enumerate(_sentence_spans(document)):
            offsets = [(start + s, start + e) for s, e in tokenizer(text[start:end])]
            mentions = [m for m in document.mentions if m.start < end and m.end > start]
            tokens = [text[s:e] for s, e in offsets]
            tags = _bio_tags(offsets, mentions)
            examples.append(TokenExample(tokens, tags, f"{document.id}:{number}", offsets, text))
    return examples


def _sentence_spans(document: PubtatorDocument) -> list[tuple[int, int]]:
    """Sentence spans of the document's text that contain a non-space character."""
    text = document.text
    cuts = {len(document.title)} | {match.start() + 1 for match in _SENTENCE_END.finditer(text)}
    kept = sorted(cut for cut in cuts if not any(m.start < cut < m.end for m in document.mentions))
    bounds = [0, *kept, len(text)]
    return [(start, end) for start, end in pairwise(bounds) if text[start:end].strip()]


def _bio_tags(offsets: Sequence[tuple[int, int]], mentions: Iterable[PubtatorMention]) -> list[str]:
    """BIO tags from mention spans; of overlapping mentions the earlier (at equal starts the longer) wins."""
    tags = ["O"] * len(offsets)
    for mention in sorted(mentions, key=lambda m: (m.start, -m.end)):
        covered = [i for i, (start, end) in enumerate(offsets) if start < mention.end and end > mention.start]
        if covered and all(tags[i] == "O" for i in covered):
            tags[covered[0]] = f"B-{mention.type}"
            for i in covered[1:]:
                tags[i] = f"I-{mention.type}"
    return tags


# --- splits ---------------------------------------------------------------------------------------


def split_examples(
    examples: Sequence[T], dev_fraction: float, seed: int, groups: Callable[[T], Hashable] | None = None
) -> tuple[list[T], list[T]]:
    """Split into ``(train, dev)`` at random but reproducibly: the same input and seed give the same split.

    About ``dev_fraction`` of the examples go to dev (at least one, when there are two or more groups).
    With ``groups``, a key function such as a document or patient id, whole groups are drawn, so no group
    falls on both sides. Both sides keep the input order.
    """
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    members: dict[Hashable, list[int]] = {}
    for index, example in enumerate(examples):
        members.setdefault(groups(example) if groups else index, []).append(index)
    order = list(members)
    random.Random(seed).shuffle(order)
    target = max(1, round(len(examples) * dev_fraction))
    dev: set[int] = set()
    for key in order[:-1]:  # the last group always stays in train
        if len(dev) >= target:
            break
        dev.update(members[key])
    train = [example for index, example in enumerate(examples) if index not in dev]
    return train, [example for index, example in enumerate(examples) if index in dev]
