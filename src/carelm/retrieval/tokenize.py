"""Tokenisation for BM25: lower case, split on non-alphanumerics, a small stop list, light stemming.

The stemmer strips a few inflectional and common derivational English suffixes (plurals, ``-ed``,
``-ing``, ``-ly``, ``-ness``, ``-ation`` ...) so that "infection"/"infections" and "treated"/"treating"
meet.  It is deliberately light: clinical and biomedical words are often short abbreviations or
Latin/Greek stems that aggressive stemmers mangle.  Words shorter than four letters and tokens with
digits ("il6", "covid19", "5mg") are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]")

STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not of off on once only or other our out
over own same she should so some such than that the their them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
""".split())
# "no"/"not"/"nor" matter in clinical text ("no fever"), but as bag-of-words terms they match nearly
# every note; negation is handled by the assertion stage, not by retrieval.

# Longest suffix first; each is (suffix, replacement, minimum length of what stays).
_SUFFIXES = (
    ("ational", "ate", 3), ("ization", "ize", 3), ("fulness", "ful", 3), ("iveness", "ive", 3),
    ("ousness", "ous", 3), ("ations", "ate", 3), ("ation", "ate", 3), ("nesses", "", 3), ("ness", "", 3),
    ("ments", "", 4), ("ment", "", 4), ("ingly", "", 3), ("edly", "", 3), ("ities", "ity", 3),
    ("ies", "y", 2), ("sses", "ss", 2), ("ing", "", 3), ("ed", "", 3), ("ly", "", 3), ("es", "e", 3),
    ("s", "", 3),
)
_KEEP_ENDINGS = ("ss", "us", "is", "ous", "as")


@dataclass(frozen=True, slots=True)
class TokenizerConfig:
    """How text becomes terms; saved in an index manifest so queries are tokenised as the documents were."""

    stem: bool = True
    stop_words: bool = True
    min_length: int = 1

    def to_dict(self) -> dict:
        return {"stem": self.stem, "stop_words": self.stop_words, "min_length": self.min_length}

    @classmethod
    def from_dict(cls, data: dict) -> TokenizerConfig:
        return cls(stem=bool(data.get("stem", True)), stop_words=bool(data.get("stop_words", True)),
                   min_length=int(data.get("min_length", 1)))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light stem of one lower-case word (see the module docstring)."""
    if len(word) < 4 or not word.isalpha() or word.endswith(_KEEP_ENDINGS):
        return word
    for suffix, replacement, keep in _SUFFIXES:
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) >= keep and _VOWEL.search(base):
                word = _undouble(base) if suffix in ("ing", "ed") else base + replacement
            break
    # A final "e" goes, so "activate", "activated" and "activation" share "activat".
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _undouble(base: str) -> str:
    """"stopped" -> "stop", "admitted" -> "admit"; "ll"/"ss"/"zz" stay ("called", "pressed")."""
    if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz" and base[-1] not in "aeiou":
        return base[:-1]
    return base


def tokenize(text: str, config: TokenizerConfig = TokenizerConfig()) -> list[str]:
    """The BM25 terms of ``text`` in order (repeats kept: they are term frequencies)."""
    words = _TOKEN.findall(text.lower())
    if config.stop_words:
        words = [w for w in words if w not in STOP_WORDS]
    if config.min_length > 1:
        words = [w for w in words if len(w) >= config.min_length]
    if config.stem:
        words = [stem(w) for w in words]
    return words
