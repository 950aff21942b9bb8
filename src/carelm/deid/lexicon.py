"""Word lists and per-note token facts shared by the name and place recognizers.

Every word of a note gets one of four kinds from the lexicons under ``carelm/resources/deid``:

- ``NAME``: a first or last name that is not an English or clinical word ("Nicholson", "Maureen");
- ``AMBIG``: a name that is also a word ("Brown", "Will", "Foley");
- ``WORD``: a known English or clinical word that is not a name ("aware", "Lasix", "PERRLA");
- ``TYPO``: not known, but one edit away from a known word of five letters or more ("swolen", "bedopan");
- ``UNKNOWN``: none of these (rare surnames, place names).

Context files (``name_context.json``, ``location_context.json``) are validated against a fixed set of keys;
a missing or unknown key raises :class:`carelm.core.errors.ConfigError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from carelm.core.errors import ConfigError
from carelm.deid.base import TOKEN_RE, DeidDoc

UNKNOWN, NAME, AMBIG, WORD, TYPO = 0, 1, 2, 3, 4
LOWER_NOTE = 0.08
LOWER_WORDS = 0.02
TYPO_MIN_LENGTH = 5
SPLIT_RE = re.compile(r"[-'/]")
PREFIXES = ("re", "un", "non", "pre", "post", "dis", "hyper", "hypo", "de", "mis", "over", "under", "anti", "sub",
            "inter", "intra", "semi", "self", "trans", "peri")
SUFFIXES = (("ing", ("", "e")), ("ed", ("", "e")), ("es", ("", "e")), ("s", ("",)), ("ly", ("", "le")),
            ("er", ("", "e")), ("ers", ("", "e")), ("ness", ("",)), ("ment", ("",)), ("ation", ("e", "")),
            ("ations", ("e", "")), ("ions", ("", "e")), ("ion", ("", "e")), ("al", ("", "e")), ("ic", ("", "y")),
            ("ist", ("y", "")), ("ists", ("y", "")), ("ity", ("", "e")), ("ive", ("e", "")), ("ous", ("", "e")))
RESOURCE_PACKAGE = ("resources", "deid")


def _resource_text(filename: str) -> str:
    return resources.files("carelm").joinpath(*RESOURCE_PACKAGE, filename).read_text(encoding="utf-8")


def read_list(filename: str, *, phrases: bool = False) -> frozenset[str]:
    """A word list resource: whitespace-separated words, or one phrase per line when ``phrases``."""
    entries: set[str] = set()
    for line in _resource_text(filename).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.update([line.lower()] if phrases else line.lower().split())
    return frozenset(entries)


def phrase_key(phrase: str) -> tuple[str, ...]:
    """A context phrase as the lower-case token sequence the tokenizer yields ("d/w" -> ("d", "/", "w"))."""
    return tuple(m.group().lower() for m in TOKEN_RE.finditer(phrase))


def load_context(filename: str, keys: frozenset[str]) -> dict[str, list[str]]:
    """Read a context resource and check it with :func:`parse_context`."""
    location = f"resources/deid/{filename}"
    try:
        data = json.loads(_resource_text(filename))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError("context file is missing or not valid JSON", location=location) from exc
    return parse_context(data, keys, location)


def parse_context(data: object, keys: frozenset[str], location: str) -> dict[str, list[str]]:
    """Check a context object: exactly ``keys`` plus ``version`` (1), each a list of non-empty strings."""
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ConfigError("context file must be an object with version 1", location=location)
    unknown, missing = set(data) - keys - {"version"}, keys - set(data)
    if unknown or missing:
        raise ConfigError(f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}", location=location)
    for key in keys:
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError("must be a list of non-empty strings", location=f"{location}:{key}")
    return {key: [v.lower() for v in data[key]] for key in keys}


def phrase_index(phrases: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """Phrases grouped by their first token, longest first, for matching at a token position."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for key in sorted({phrase_key(p) for p in phrases if phrase_key(p)}, key=len, reverse=True):
        index.setdefault(key[0], []).append(key)
    return index


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The shared word lists, read once per process."""

    first: frozenset[str]
    common_first: frozenset[str]
    last: frozenset[str]
    words: frozenset[str]
    not_names: frozenset[str]
    cities: frozenset[str]
    states: dict[str, str]
    deletes: frozenset[str]

    def known(self, word: str) -> bool:
        """True for a known English or clinical word."""
        return word in self.not_names or word in self.words

    def kind(self, word: str) -> int:
        """The kind of a lower-case word (a trailing possessive "'s" is ignored)."""
        word = word.removesuffix("'s").strip("'-")
        named = word in self.first or word in self.last
        if self.known(word):
            return AMBIG if named else WORD
        if named:
            return NAME
        if self.inflected(word):
            return WORD
        return TYPO if self.typo(word) else UNKNOWN

    def typo(self, word: str) -> bool:
        """One insertion, deletion, substitution or transposition away from a known word."""
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            return False
        if word in self.deletes:
            return True
        shorter = [word[:i] + word[i + 1:] for i in range(len(word))]
        return any(self.known(w) or w in self.deletes for w in shorter)

    def inflected(self, word: str) -> bool:
        """True for an inflection or compound of known words ("suctioning", "tan-colored", "sxn'd")."""
        parts = [p for p in SPLIT_RE.split(word) if len(p) > 1]
        if len(parts) > 1 or (parts and parts[0] != word):
            return all(self.known(p) or self._stem_known(p) for p in parts)
        return self._stem_known(word)

    def _stem_known(self, word: str) -> bool:
        for prefix in PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 4:
                rest = word[len(prefix):]
                if self.known(rest) or self._stem_known(rest):
                    return True
        for suffix, endings in SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                stem = word[: -len(suffix)]
                if any(self.known(stem + e) for e in endings):
                    return True
                if len(stem) > 3 and stem[-1] == stem[-2] and self.known(stem[:-1]):
                    return True
        return False


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The process-wide lexicon (first call reads the resource files)."""
    states = json.loads(_resource_text("us_states.json"))
    common_first, last = read_list("first_names.txt"), read_list("last_names.txt")
    first = common_first | read_list("first_names_more.txt")
    words, not_names = read_list("english_words.txt"), read_list("not_names.txt")
    return Lexicon(
        first=first, common_first=common_first, last=last, words=words, not_names=not_names,
        cities=read_list("us_cities.txt", phrases=True) | read_list("world_cities.txt", phrases=True),
        states={k.lower(): v.lower() for k, v in states.items()},
        deletes=frozenset(deletions(w for w in words | not_names if w not in first and w not in last)),
    )


def deletions(words: Iterable[str]) -> Iterator[str]:
    """Every string one deletion away from a word of ``TYPO_MIN_LENGTH`` letters or more."""
    for word in words:
        if len(word) >= TYPO_MIN_LENGTH and word.isalpha():
            for i in range(len(word)):
                yield word[:i] + word[i + 1:]


class TokenView:
    """Per-note facts about every token: lower-case text, lexicon kind, capitalisation, line breaks."""

    __slots__ = ("doc", "tokens", "low", "kind", "cap", "caseless", "newline_before", "lower_ok")

    def __init__(self, doc: DeidDoc, lex: Lexicon):
        self.doc = doc
        self.tokens = doc.tokens
        text = doc.text
        self.low = [t.text.lower() for t in self.tokens]
        kinds: dict[str, int] = {}
        self.kind = [kinds[w] if w in kinds else kinds.setdefault(w, lex.kind(w)) for w in self.low]
        for i in range(len(self.tokens) - 1):
            nxt = self.tokens[i + 1]
            if nxt.start == self.tokens[i].end and nxt.text.isdigit() and lex.known(self.low[i] + nxt.text):
                self.kind[i] = WORD
        self.cap = [t.text[0].isupper() and (len(t.text) == 1 or not t.text.isupper()) for t in self.tokens]
        self.newline_before = [i == 0 or "\n" in text[self.tokens[i - 1].end:t.start]
                               for i, t in enumerate(self.tokens)]
        self.caseless = doc.mostly_upper or self._title_ratio(False) < LOWER_NOTE
        self.lower_ok = self.caseless or self._title_ratio(True) < LOWER_WORDS

    def _title_ratio(self, inside: bool) -> float:
        """Share of capitalised words (of sentence-inner words when ``inside``)."""
        count = title = 0
        tokens = self.tokens
        for i, tok in enumerate(tokens):
            text = tok.text
            if len(text) < 2 or not text[0].isalpha():
                continue
            if inside and (self.newline_before[i] or (i and tokens[i - 1].text in ".:;!?")):
                continue
            count += 1
            title += text[0].isupper() and not text.isupper()
        return title / count if count else 0.0

    def cased(self, i: int) -> bool:
        """Whether capitalisation tells something about token ``i``: a capitalised word outside all-capitals
        notes, or a lower-case word of a note whose writer capitalises names (else it may be a name)."""
        if self.doc.mostly_upper or self.upper(i):
            return False
        return self.cap[i] or not self.lower_ok

    def upper(self, i: int) -> bool:
        """True for a token written in capitals (two letters or more)."""
        text = self.tokens[i].text
        return len(text) > 1 and text.isupper()

    def alpha(self, i: int) -> bool:
        """True when token ``i`` exists and starts with a letter."""
        return 0 <= i < len(self.tokens) and self.tokens[i].text[0].isalpha()

    def matches(self, i: int, index: dict[str, list[tuple[str, ...]]], size: int = 0) -> int:
        """Length in tokens of the longest phrase of ``index`` (of ``size`` tokens if given) at token ``i``."""
        low = self.low
        for key in index.get(low[i], ()) if 0 <= i < len(low) else ():
            if (not size or len(key) == size) and tuple(low[i:i + len(key)]) == key:
                return len(key)
        return 0

    def ends_with(self, end: int, index: dict[str, list[tuple[str, ...]]], reach: int = 4) -> int:
        """Length of a phrase of ``index`` that ends just before token ``end`` (0 when none)."""
        for size in range(reach, 0, -1):
            start = end - size
            if start >= 0 and self.matches(start, index, size):
                return size
        return 0


def token_view(doc: DeidDoc) -> TokenView:
    """The token view of a note, built once and kept on the note for the other recognizers."""
    view = doc.__dict__.get("_deid_token_view")
    if view is None:
        view = doc.__dict__["_deid_token_view"] = TokenView(doc, lexicon())
    return view
