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
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import chain, compress

from carelm.core.errors import ConfigError
from carelm.deid.base import TOKEN_RE, DeidDoc, token_offsets

UNKNOWN, NAME, AMBIG, WORD, TYPO = 0, 1, 2, 3, 4
LOWER_NOTE = 0.08
LOWER_WORDS = 0.02
TYPO_MIN_LENGTH = 5
REMEMBERED_INFLECTIONS = 1 << 15
SPLIT_CHARS = frozenset("-'/")
SPLIT_RE = re.compile(r"[-'/]")
SENTENCE_MARKS = (".", ":", ";", "!", "?")
PREFIXES = ("re", "un", "non", "pre", "post", "dis", "hyper", "hypo", "de", "mis", "over", "under", "anti", "sub",
            "inter", "intra", "semi", "self", "trans", "peri")
SUFFIXES = (("ing", ("", "e")), ("ed", ("", "e")), ("es", ("", "e")), ("s", ("",)), ("ly", ("", "le")),
            ("er", ("", "e")), ("ers", ("", "e")), ("ness", ("",)), ("ment", ("",)), ("ation", ("e", "")),
            ("ations", ("e", "")), ("ions", ("", "e")), ("ion", ("", "e")), ("al", ("", "e")), ("ic", ("", "y")),
            ("ist", ("y", "")), ("ists", ("y", "")), ("ity", ("", "e")), ("ive", ("e", "")), ("ous", ("", "e")))
SUFFIX_ENDS = tuple(suffix for suffix, _ in SUFFIXES)
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
    listed: dict[str, int] = field(init=False, default_factory=dict, compare=False, repr=False)
    inflections: set[str] = field(init=False, default_factory=set, compare=False, repr=False)  # see token_kind

    def __post_init__(self) -> None:
        # The kind of every listed word, worked out once: most words of a note are found here.
        for word in self.first | self.last | self.words | self.not_names:
            named = word in self.first or word in self.last
            self.listed[word] = (AMBIG if named else WORD) if self.known(word) else NAME

    def known(self, word: str) -> bool:
        """True for a known English or clinical word."""
        return word in self.not_names or word in self.words

    def kind(self, word: str) -> int:
        """The kind of a lower-case word (a trailing possessive "'s" is ignored)."""
        word = word.removesuffix("'s").strip("'-")
        listed = self.listed.get(word)
        if listed is not None:
            return listed
        if self.inflected(word):
            return WORD
        return TYPO if self.typo(word) else UNKNOWN

    def token_kind(self, word: str) -> int:
        """:meth:`kind` of a lower-case token of a note, with two shortcuts.

        A token that does not start with a letter (a number, a punctuation mark) is never an inflection or a
        near miss.  Inflections are remembered across notes (at most ``REMEMBERED_INFLECTIONS``): they derive from
        known words, whereas unknown words and near misses, which may be rare names, are never kept.
        """
        stem = word.removesuffix("'s").strip("'-")
        listed = self.listed.get(stem)
        if listed is not None:
            return listed
        if not stem[:1].isalpha():
            return UNKNOWN
        if stem in self.inflections:
            return WORD
        if self.inflected(stem):
            if len(self.inflections) >= REMEMBERED_INFLECTIONS:
                self.inflections.clear()
            self.inflections.add(stem)
            return WORD
        return TYPO if self.typo(stem) else UNKNOWN

    def typo(self, word: str) -> bool:
        """One insertion, deletion, substitution or transposition away from a known word."""
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            return False
        if word in self.deletes:
            return True
        shorter = {word[:i] + word[i + 1:] for i in range(len(word))}
        return not (shorter.isdisjoint(self.words) and shorter.isdisjoint(self.not_names)
                    and shorter.isdisjoint(self.deletes))

    def inflected(self, word: str) -> bool:
        """True for an inflection or compound of known words ("suctioning", "tan-colored", "sxn'd")."""
        if not SPLIT_CHARS.intersection(word):
            return self._stem_known(word)
        parts = [p for p in SPLIT_RE.split(word) if len(p) > 1]
        if len(parts) > 1 or (parts and parts[0] != word):
            return all(self.known(p) or self._stem_known(p) for p in parts)
        return self._stem_known(word)

    def _stem_known(self, word: str) -> bool:
        # One startswith/endswith over all affixes first: most words have none (the loops are slow).
        for prefix in PREFIXES if word.startswith(PREFIXES) else ():
            if word.startswith(prefix) and len(word) - len(prefix) >= 4:
                rest = word[len(prefix):]
                if self.known(rest) or self._stem_known(rest):
                    return True
        for suffix, endings in SUFFIXES if word.endswith(SUFFIX_ENDS) else ():
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
    """Per-note facts about every token, as parallel lists: offsets and text, lower-case text, lexicon kind,
    capitalisation and line breaks.  Built once per note (:func:`token_view`) and shared by the recognizers."""

    __slots__ = ("doc", "n", "starts", "ends", "texts", "low", "positions", "kind_of", "kind", "cap", "is_alpha",
                 "is_upper", "caseless", "newline_before", "lower_ok")

    def __init__(self, doc: DeidDoc, lex: Lexicon):
        self.doc = doc
        self.texts, self.starts, self.ends = token_offsets(doc.text)
        texts = self.texts
        self.n = len(texts)
        self.low = low = list(map(str.lower, texts))
        self.positions: dict[str, list[int]] = {}
        for i, word in enumerate(low):
            self.positions.setdefault(word, []).append(i)
        self.kind_of = {word: lex.token_kind(word) for word in self.positions}
        self.kind = list(map(self.kind_of.__getitem__, low))
        for i in self._glued_numbers():
            if lex.known(low[i] + texts[i + 1]):
                self.kind[i] = WORD  # "spo" in "SpO2" is part of a word
        self.cap = [t[0].isupper() and (len(t) == 1 or not t.isupper()) for t in texts]
        self.is_alpha = [t[0].isalpha() for t in texts]
        self.is_upper = [len(t) > 1 and t.isupper() for t in texts]
        line_starts = self._line_starts()
        self.newline_before = [False] * self.n
        for i in line_starts:
            self.newline_before[i] = True
        self.caseless, self.lower_ok = self._case_style(line_starts)

    def at(self, words: Iterable[str]) -> list[int]:
        """The tokens whose lower-case text is one of ``words``, in order."""
        positions = self.positions
        return sorted(chain.from_iterable(positions[word] for word in positions.keys() & words))

    def _glued_numbers(self) -> list[int]:
        """Tokens followed without a space by a number ("SpO2", "D5W")."""
        starts, ends = self.starts, self.ends
        numbers = chain.from_iterable(where for word, where in self.positions.items() if word.isdigit())
        return [i - 1 for i in numbers if i and starts[i] == ends[i - 1]]

    def _line_starts(self) -> list[int]:
        """The tokens that start the note or a line."""
        starts, text = self.starts, self.doc.text
        found = [0] if self.n else []
        # Only blanks lie between tokens, so a line break belongs to the gap before the first token after it.
        newline = text.find("\n")
        while newline >= 0:
            i = bisect_left(starts, newline)
            if i == self.n:
                break
            if i:
                found.append(i)
            newline = text.find("\n", starts[i])
        return found

    def _case_style(self, line_starts: list[int]) -> tuple[bool, bool]:
        """``caseless``: the note is in capitals, or few of its words are capitalised; ``lower_ok``: caseless, or
        very few words inside sentences are capitalised (the writer does not capitalise names).  Words have two
        letters or more; a word's ``cap`` flag says it is capitalised."""
        words = [alpha and len(text) > 1 for text, alpha in zip(self.texts, self.is_alpha, strict=True)]
        count, title = sum(words), sum(compress(self.cap, words))
        if self.doc.mostly_upper or _share(title, count) < LOWER_NOTE:
            return True, True
        after_marks = chain.from_iterable(self.positions.get(mark, ()) for mark in SENTENCE_MARKS)
        for i in {*line_starts, *(i + 1 for i in after_marks if i + 1 < self.n)}:  # few: taken out one by one
            count -= words[i]
            title -= words[i] and self.cap[i]
        return False, _share(title, count) < LOWER_WORDS

    def cased(self, i: int) -> bool:
        """Whether capitalisation tells something about token ``i``: a capitalised word outside all-capitals
        notes, or a lower-case word of a note whose writer capitalises names (else it may be a name)."""
        if self.doc.mostly_upper or self.upper(i):
            return False
        return self.cap[i] or not self.lower_ok

    def upper(self, i: int) -> bool:
        """True for a token written in capitals (two letters or more)."""
        return self.is_upper[i]

    def alpha(self, i: int) -> bool:
        """True when token ``i`` exists and starts with a letter."""
        return 0 <= i < self.n and self.is_alpha[i]

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


@dataclass(frozen=True, slots=True)
class Triggers:
    """Where a recognizer's rules may apply: at one of ``words``, or at a key of ``leads`` followed by one of its
    words.  Rules look at few tokens of a note; the others need not be visited."""

    words: frozenset[str]
    leads: dict[str, frozenset[str]]

    @classmethod
    def of(cls, indexes: Iterable[dict[str, list[tuple[str, ...]]]], words: Iterable[str] = (),
           pairs: Iterable[tuple[str, str]] = ()) -> Triggers:
        """The triggers of the phrases of ``indexes`` (the word of a one-word phrase, the first two words of a
        longer one), of other single ``words`` and of other (word, next word) ``pairs``."""
        phrases = [key for index in indexes for keys in index.values() for key in keys]
        single = frozenset(words).union(key[0] for key in phrases if len(key) == 1)
        leads: dict[str, set[str]] = {}
        for first, second in [*pairs, *((key[0], key[1]) for key in phrases if len(key) > 1)]:
            if first not in single:
                leads.setdefault(first, set()).add(second)
        return cls(single, {first: frozenset(seconds) for first, seconds in leads.items()})

    def tokens(self, view: TokenView) -> list[int]:
        """The tokens of ``view`` where a trigger stands (a lead followed by one of its words), not in order."""
        low, leads = view.low, self.leads
        led = [i for i in view.at(leads.keys()) if i + 1 < view.n and low[i + 1] in leads[low[i]]]
        return view.at(self.words) + led


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def token_view(doc: DeidDoc) -> TokenView:
    """The token view of a note, built once and kept on the note for the other recognizers."""
    view = doc.__dict__.get("_deid_token_view")
    if view is None:
        view = doc.__dict__["_deid_token_view"] = TokenView(doc, lexicon())
    return view
