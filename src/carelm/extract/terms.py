"""Dictionary matching of clinical terms: the ``mentions`` layer.

The terminology (``resources/terminology/terms.jsonl.gz``, built by ``carelm.extract.terminology_build``)
holds entries ``{"term", "type", "concept", "source"}`` plus optional ``canonical`` (the preferred name
when ``term`` is a synonym or abbreviation) and ``not_followed_by`` (a character that, as the next
non-space character, rejects a match: ``"PE:"`` is the physical exam header, not pulmonary embolism).

Text and terms are split into the same tokens: runs of word characters (an inner apostrophe kept, so
``Crohn's`` is one token) and single punctuation characters; hyphens separate tokens and are dropped, so
``chest-pain`` and ``chest pain`` match alike.  Tokens are compared lower-cased, a plural reduced to a
singular the terminology knows (``headaches`` -> ``headache``, ``arteries`` -> ``artery``), and ``'s``
dropped.  A term written in capitals of at most four characters (``PE``, ``MI``, ``CT``) matches only as
written, so the words ``pe`` or ``mi`` never match.  Matches never start or end inside a word; scanning
left to right, the longest term starting at a token wins and matches do not overlap.

Each span is labelled with the entry's type (PROBLEM, SYMPTOM, DRUG, TEST, PROCEDURE, ANATOMY) and has
attributes ``concept``, ``term`` (the canonical name) and ``source``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.types import Note, Span

MENTIONS = "mentions"
TYPES = ("PROBLEM", "SYMPTOM", "DRUG", "TEST", "PROCEDURE", "ANATOMY")
TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s-]")
_CASE_SENSITIVE = re.compile(r"^(?=.*[A-Z])[A-Z0-9/.-]{1,4}$")
_ENTRY_KEYS = {"term", "type", "concept", "source", "canonical", "not_followed_by"}
_MIN_CHARS = 3
_KEY_CACHE = 200_000


def is_case_sensitive(term: str) -> bool:
    """True for a short all-capitals abbreviation (``PE``, ``MI``, ``N/V``), which matches only as written."""
    return bool(_CASE_SENSITIVE.match(term.strip()))


def tokens_of(text: str) -> list[str]:
    """The tokens of ``text`` as the matcher sees them (hyphens dropped)."""
    return TOKEN.findall(text)


def fold(token: str) -> str:
    """Lower-case a token and drop a possessive ``'s`` or inner apostrophe."""
    token = token.lower()
    if "'" in token:
        token = token[:-2] if token.endswith("'s") else token.replace("'", "")
    return token


def singulars(token: str) -> tuple[str, ...]:
    """Candidate singulars of a folded token, most specific first."""
    if len(token) < 4 or not token.endswith("s") or token.endswith(("ss", "us", "is")):
        return ()
    found = [token[:-3] + "y"] if token.endswith("ies") else []
    found.append(token[:-1])
    if token.endswith("es"):
        found.append(token[:-2])
    return tuple(found)


def default_terminology_path() -> Any:
    """The shipped terminology file (a Traversable inside the package)."""
    return resources.files("carelm").joinpath("resources", "terminology", "terms.jsonl.gz")


def load_terminology(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Entries of a terminology file: ``.jsonl`` or ``.jsonl.gz`` (one object a line) or a ``.json`` list.

    Lines holding a ``"version"`` key are headers and skipped.  Missing files or invalid JSON are ConfigErrors.
    """
    source: Any = default_terminology_path() if path is None else Path(path)
    where = str(path) if path is not None else "carelm/resources/terminology/terms.jsonl.gz"
    try:
        raw = source.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
        if where.endswith(".json"):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except FileNotFoundError:
        raise ConfigError("terminology file not found", location=where) from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"invalid terminology: {exc}", location=where) from None
    if not isinstance(rows, list):
        raise ConfigError("expected a list of entries", location=where)
    return [row for row in rows if isinstance(row, dict) and "version" not in row]


def check_entry(entry: Any, where: str) -> None:
    """Reject an entry that lacks a field, has an unknown one, or has an unknown type."""
    if not isinstance(entry, dict) or not {"term", "type", "concept"} <= set(entry):
        raise ConfigError("each entry needs 'term', 'type' and 'concept'", location=where)
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}; accepted: {sorted(_ENTRY_KEYS)}", location=where)
    if entry["type"] not in TYPES:
        raise ConfigError(f"unknown type {entry['type']!r}; accepted: {', '.join(TYPES)}", location=where)


def is_junk(term: str, tokens: list[str], stop_words: set[str]) -> bool:
    """Terms never worth matching: too short, only numbers or punctuation, or only stop words."""
    words = [t for t in tokens if t[0].isalnum() or t[0] == "_"]
    if not words or all(w.isdigit() for w in words):
        return True
    if len(term.strip()) < _MIN_CHARS and not is_case_sensitive(term):
        return True
    return not is_case_sensitive(term) and all(fold(w) in stop_words for w in words)


class _Index:
    """Term keys (tokens joined by spaces) and their proper prefixes, for one case mode."""

    def __init__(self) -> None:
        self.terms: dict[str, int] = {}
        self.prefixes: set[str] = set()
        self.firsts: set[str] = set()

    def add(self, keys: list[str], entry: int) -> None:
        self.firsts.add(keys[0])
        for end in range(1, len(keys)):
            self.prefixes.add(" ".join(keys[:end]))
        self.terms.setdefault(" ".join(keys), entry)

    def longest(self, keys: list[str], start: int) -> tuple[int, int] | None:
        """(end token, entry) of the longest term at token ``start``, or None."""
        terms, prefixes, size = self.terms, self.prefixes, len(keys)
        key, end, best = keys[start], start, None
        while True:
            entry = terms.get(key)
            if entry is not None:
                best = (end + 1, entry)
            end += 1
            if end >= size or key not in prefixes:
                return best
            key = f"{key} {keys[end]}"


@register_stage
class TermMatcher(Stage):
    """Writes the ``mentions`` layer: dictionary matches of problems, symptoms, drugs, tests, procedures, anatomy."""

    name: ClassVar[str] = "carelm.terms.v1"
    reads: ClassVar[tuple[str, ...]] = ("normalized",)
    writes: ClassVar[tuple[str, ...]] = (MENTIONS,)

    def __init__(
        self, terms_path: str | None = None, terms: list[dict[str, Any]] | None = None, types: list[str] | None = None
    ) -> None:
        super().__init__()
        if terms_path is not None and not isinstance(terms_path, str):
            raise ConfigError("parameter 'terms_path' must be a string path", location=self.name)
        if terms is not None and not isinstance(terms, list):
            raise ConfigError("parameter 'terms' must be a list of entries", location=self.name)
        if types is not None and not set(types) <= set(TYPES):
            raise ConfigError(f"parameter 'types' accepts {', '.join(TYPES)}", location=self.name)
        self.terms_path, self.terms, self.types = terms_path, terms, types
        self._entries: list[tuple[str, dict[str, Any], str]] = []
        self._folded = _Index()
        self._exact = _Index()
        self._vocab: set[str] = set()
        self._keys: dict[str, str] = {}

    @property
    def params(self) -> dict[str, Any]:
        given = {"terms_path": self.terms_path, "terms": self.terms, "types": self.types}
        return {key: value for key, value in given.items() if value is not None}

    def warm_up(self) -> None:
        """Load the terminology (the inline ``terms``, else ``terms_path``, else the shipped file) and index it."""
        from spacy.lang.en.stop_words import STOP_WORDS

        rows = self.terms if self.terms is not None else load_terminology(self.terms_path)
        where = self.terms_path or ("parameter 'terms'" if self.terms is not None else "shipped terminology")
        selected = []
        for index, entry in enumerate(rows):
            check_entry(entry, f"{where}#{index}")
            tokens = tokens_of(entry["term"])
            if (self.types is None or entry["type"] in self.types) and not is_junk(entry["term"], tokens, STOP_WORDS):
                selected.append((entry, tokens))
        self._vocab = {fold(token) for _, tokens in selected for token in tokens}
        self._keys = {}
        self._folded, self._exact, self._entries = _Index(), _Index(), []
        for entry, tokens in selected:
            self._add(entry, tokens)
        super().warm_up()

    def _add(self, entry: dict[str, Any], tokens: list[str]) -> None:
        attributes = {
            "concept": entry["concept"],
            "term": entry.get("canonical") or entry["term"],
            "source": entry.get("source", "custom"),
        }
        self._entries.append((entry["type"], attributes, entry.get("not_followed_by", "")))
        if is_case_sensitive(entry["term"]):
            self._exact.add(tokens, len(self._entries) - 1)
        else:
            self._folded.add([self._key(token) for token in tokens], len(self._entries) - 1)

    def _key(self, token: str) -> str:
        key = self._keys.get(token)
        if key is None:
            folded = fold(token)
            key = next((s for s in singulars(folded) if len(s) >= _MIN_CHARS and s in self._vocab), folded)
            if len(self._keys) > _KEY_CACHE:
                self._keys.clear()
            self._keys[token] = key
        return key

    def find(self, text: str) -> list[Span]:
        """Mention spans of ``text`` (a normalized view), left to right, not overlapping."""
        if not self._warm:
            self.warm_up()
        matches = list(TOKEN.finditer(text))
        raw = [match.group() for match in matches]
        keys = [self._key(token) for token in raw]
        exact, folded = self._exact.firsts, self._folded.firsts
        # Only a token that begins some term can begin a match: the others are passed over.
        starts = [i for i, (word, key) in enumerate(zip(raw, keys, strict=True)) if word in exact or key in folded]
        spans: list[Span] = []
        end = 0
        for start in starts:
            if start < end:
                continue
            best = self._best(text, matches, raw, keys, start)
            if best is not None:
                end, entry = best
                label, attributes, _ = self._entries[entry]
                start_char, end_char = matches[start].start(), matches[end - 1].end()
                spans.append(Span(start_char, end_char, label, dict(attributes), stage=self.name))
        return spans

    def _best(self, text: str, matches: list, raw: list[str], keys: list[str], position: int) -> tuple[int, int] | None:
        """(end token, entry) of the longest allowed term at ``position``; of two as long, the first entry."""
        best = None
        for index, tokens in ((self._exact, raw), (self._folded, keys)):
            found = index.longest(tokens, position)
            if found is None or not self._allowed(text, matches[found[0] - 1].end(), found[1]):
                continue
            if best is None or (-found[0], found[1]) < (-best[0], best[1]):
                best = found
        return best

    def _allowed(self, text: str, end: int, entry: int) -> bool:
        banned = self._entries[entry][2]
        return not banned or not text[end:].lstrip(" \t").startswith(banned)

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            note.layers[MENTIONS] = self.find(note.view("normalized"))
        return notes


def mentions_text(text: str, spans: Iterable[Span]) -> list[tuple[str, str]]:
    """(covered text, label) pairs, a convenience for inspection and tests."""
    return [(span.text_of(text), span.label) for span in spans]
