"""The ``extractive`` backend: no model; it answers with sentences copied from the messages.

The question is the last user message (its sentences ending in ``?`` when it has any, else all of it).
The context is every sentence of the system and user messages other than the question sentences;
assistant messages are never quoted.  Sentences end at ``.``, ``!`` or ``?`` followed by white space (not
after a title such as ``Dr.``) and at line breaks.  Each context sentence is scored by the summed inverse
document frequency (over the context sentences) of the question's content words it contains (lower-cased,
stop words dropped, a plural ``s`` stripped, cut to six letters).  The best sentences (at most
``max_sentences``, each scoring at least half of the best) are returned in document order (message order,
then position), joined by one space, within ``max_tokens`` words; a single sentence longer than that is cut
after its ``max_tokens``-th word.  With no matching sentence the reply is empty.  Every sentence of a reply
is a verbatim substring of a message, and the same messages always give the same reply (``temperature`` is
ignored).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from carelm.generate.backend_common import Completion, check_messages, check_sampling, word_count
from carelm.generate.base import Message

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_WORD = re.compile(r"[a-z0-9]+")
# an abbreviation before a full stop does not end a sentence ("Dr. Lee", "e.g. asthma")
_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "vs", "eg", "ie", "pt", "approx", "etc"}
_STOP = set(
    "a an the and or but of to in on at by for with from as is are was were be been being it its this that these "
    "those what which who whom whose when where why how do does did done has have had having can could should "
    "would will may might must shall not no yes any all some there their they them he she his her him you your "
    "we our i me my if then than so such into onto about over under again please tell give show list".split()
)


@dataclass(frozen=True, slots=True)
class Snippet:
    """A sentence of the messages: ``messages[message].content[start:end]``."""

    message: int
    start: int
    end: int


def sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (stripped, never empty), in order."""
    spans, start = [], 0
    for boundary in _BOUNDARY.finditer(text):
        before = text[start : boundary.start()]
        last = before.rstrip(".!?").rsplit(maxsplit=1)[-1:] if before.strip() else []
        if last and last[0].lower().replace(".", "") in _ABBREVIATIONS and "\n" not in boundary.group():
            continue
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    out = []
    for begin, end in spans:
        piece = text[begin:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((begin + lead, begin + len(piece.rstrip())))
    return out


def terms(text: str) -> set[str]:
    """The content words of ``text``: lower-cased, stop words dropped, a plural ``s`` stripped, cut to six
    letters (so "allergies" meets "allergic")."""
    found = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        stem = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        found.add(stem[:6])
    return found


class ExtractiveBackend:
    """Copies the context sentences that best match the question (see the module docstring)."""

    name = "extractive"
    external = False

    def __init__(self, max_sentences: int = 3):
        self.max_sentences = max(1, int(max_sentences))

    def select(self, messages: list[Message]) -> list[Snippet]:
        """The sentences the reply is made of, in document order."""
        messages = check_messages(messages)
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        if not users:
            return []
        last = users[-1]
        in_last = sentences(messages[last]["content"])
        asked = [span for span in in_last if messages[last]["content"][span[0] : span[1]].endswith("?")] or in_last
        question = terms(" ".join(messages[last]["content"][s:e] for s, e in asked))
        candidates = [
            (Snippet(i, s, e), terms(message["content"][s:e]))
            for i, message in enumerate(messages)
            if message["role"] in ("system", "user")
            for s, e in sentences(message["content"])
            if not (i == last and (s, e) in asked)
        ]
        if not question or not candidates:
            return []
        frequency = Counter(term for _, words in candidates for term in words & question)
        weight = {term: math.log(1 + len(candidates) / count) for term, count in frequency.items()}
        scored = [(sum(weight[t] for t in words & question), at) for at, (_, words) in enumerate(candidates)]
        best = max(score for score, _ in scored)
        if best <= 0:
            return []
        ranked = sorted((item for item in scored if item[0] >= best / 2), key=lambda item: (-item[0], item[1]))
        chosen = sorted(position for _, position in ranked[: self.max_sentences])
        return [candidates[position][0] for position in chosen]

    def generate(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> Completion:
        check_sampling(max_tokens, temperature)
        messages = check_messages(messages)
        pieces, used, cut = [], 0, False
        for snippet in self.select(messages):
            text = messages[snippet.message]["content"][snippet.start : snippet.end]
            words = word_count(text)
            if used + words > max_tokens:
                if not pieces:  # a single long sentence: keep its first max_tokens words, verbatim
                    pieces.append(_first_words(text, max_tokens))
                    used = max_tokens
                cut = True
                break
            pieces.append(text)
            used += words
        prompt = sum(word_count(m["content"]) for m in messages)
        return Completion(" ".join(pieces), prompt, used, "length" if cut else "stop")

    def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> str:
        return self.generate(messages, max_tokens=max_tokens, temperature=temperature).text


def _first_words(text: str, count: int) -> str:
    """The prefix of ``text`` ending with its ``count``-th word."""
    ends = [match.end() for match in re.finditer(r"\S+", text)]
    return text[: ends[count - 1]] if ends else ""
