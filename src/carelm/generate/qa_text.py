"""Text pieces shared by grounded and closed question answering: sentences with exact offsets, content words,
inverse document frequencies and MiniLM similarities.

Sentences come from the clinical sentence splitter (``carelm.sentences.v1`` rules, without sections), so a
sentence of a passage is ``passage.text[start:end]`` exactly.  Content words are lower-cased, stop words
dropped, a plural ``s`` stripped and cut to seven letters, so "infections" matches "infection".
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from carelm.core.errors import ConfigError

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
STOP_WORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that these "
    "those what which who whom whose when where why how do does did done has have had having can could should "
    "would will may might must shall any all some there their they them he she his her him you your we our i me "
    "my if then than so such into onto about over under again please tell give show list also other more most "
    "very whether patient patients".split()
)
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a text: ``text[start:end]`` of the text it was split from."""

    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _splitter():
    from carelm.extract.sentences import SentenceSplitter

    splitter = SentenceSplitter()
    splitter.warm_up()
    return splitter


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` with their offsets; each one is exactly ``text[start:end]``."""
    with _LOCK:
        spans = _splitter().split(text, [])
    return [Sentence(s.start, s.end, text[s.start : s.end]) for s in spans]


def content_words(text: str) -> list[str]:
    """Lower-cased content words of ``text``: stop words dropped, plural ``s`` stripped, cut to seven letters."""
    words = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word[:7])
    return words


def inverse_document_frequencies(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed IDF, ``log(1 + n / df)``, of every word over ``documents`` (each an iterable of words)."""
    frequencies: Counter[str] = Counter()
    count = 0
    for words in documents:
        count += 1
        frequencies.update(set(words))
    return {word: math.log(1 + count / df) for word, df in frequencies.items()}


def weighted_overlap(question: Sequence[str], sentence: Iterable[str], idf: dict[str, float],
                     default_idf: float) -> float:
    """The share of the question's IDF weight that ``sentence`` contains, in [0, 1]."""
    wanted = set(question)
    if not wanted:
        return 0.0
    present = set(sentence)
    total = sum(idf.get(w, default_idf) for w in wanted)
    return sum(idf.get(w, default_idf) for w in wanted & present) / total


def embeddings_available() -> bool:
    """Whether the packaged MiniLM encoder can be loaded (the ``ml`` extra is installed)."""
    try:
        from carelm.coding.encoder import model_path

        model_path()
        import sentence_transformers  # noqa: F401
    except (ConfigError, ImportError):
        return False
    return True


def embed(texts: Sequence[str]) -> np.ndarray:
    """MiniLM unit vectors of ``texts`` (the encoder is loaded once per process)."""
    from carelm.coding.encoder import encode

    return encode(list(texts), batch_size=64)
