"""A generative backend's answer, kept only where it cites the numbered evidence it was given.

The model sees the evidence sentences numbered ``[1]``, ``[2]``, … and the question, and is asked to end every
sentence with the numbers it rests on, or to reply ``NOT ENOUGH EVIDENCE``.  Its reply is then checked:

* a sentence with no citation number, or only numbers that were not offered, is dropped (no claim without a
  citation);
* numbers that were not offered are removed from the sentences that are kept;
* the kept citation numbers are renumbered to the answer's citation list, in order of first use;
* a reply that is only ``NOT ENOUGH EVIDENCE`` is an abstention; a reply left with no cited sentence gives
  ``None`` and the caller falls back to the extractive answer.

The confidence is the mean relevance score of the cited sentences.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from carelm.core.types import Answer
from carelm.generate.base import Backend, Message
from carelm.generate.qa import Evidence, abstention

log = logging.getLogger(__name__)

_SYSTEM = (
    "You answer clinical and biomedical questions using only the numbered evidence sentences you are given. "
    "Write one to three short sentences. End every sentence with the numbers of the evidence sentences it rests "
    "on in square brackets, for example [2] or [1][3]. Do not add facts that the evidence does not state. "
    "If the evidence does not answer the question, reply exactly: NOT ENOUGH EVIDENCE"
)
_REFUSAL = re.compile(r"^\W*not enough evidence\W*$", re.IGNORECASE)
# the end of a sentence with the citation markers that follow it ("… hypertension. [1][3]"), before more text
_SENTENCE_END = re.compile(r"[.!?]+(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*+(?=\s+\S)")
_MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def evidence_prompt(question: str, evidence: Sequence[Evidence]) -> list[Message]:
    """The chat messages asking for an answer that cites ``evidence`` by number."""
    numbered = "\n".join(f"[{n}] {e.sentence.text}" for n, e in enumerate(evidence, start=1))
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": f"Evidence:\n{numbered}\n\nQuestion: {question}"},
    ]


def _sentences(reply: str) -> list[str]:
    """Sentences of ``reply``, each with its markers: trailing ones ("Claim. [1]") and, at the start of a line,
    leading ones ("[1] Claim.", as a model copying numbered evidence lines writes them)."""
    pieces = []
    for line in reply.splitlines():
        start = 0
        for match in _SENTENCE_END.finditer(line):
            pieces.append(line[start : match.end()])
            start = match.end()
        pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def _cited_sentences(reply: str, offered: int) -> list[tuple[str, list[int]]]:
    """Sentences of ``reply`` with the valid (1-based) evidence numbers they cite; uncited sentences dropped."""
    kept = []
    for sentence in _sentences(reply):
        numbers: list[int] = []
        for match in _MARKER.finditer(sentence):
            numbers += [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= offered))
        claim = _MARKER.sub("", sentence).strip()
        if valid and re.search(r"\w", claim):
            kept.append((claim, valid))
    return kept


def generated_answer(question: str, evidence: Sequence[Evidence], backend: Backend,
                     *, max_tokens: int = 256) -> Answer | None:
    """The backend's answer restricted to cited sentences; None when it cites nothing valid."""
    reply = backend.complete(evidence_prompt(question, evidence), max_tokens=max_tokens, temperature=0.0)
    if _REFUSAL.match(reply or ""):
        return abstention(evidence[0].score if evidence else 0.0)
    kept = _cited_sentences(reply or "", len(evidence))
    if not kept:
        log.info("generated answer cited no offered evidence; using the extractive answer",
                 extra={"backend": getattr(backend, "name", "?")})
        return None
    order: dict[int, int] = {}
    parts = []
    for claim, numbers in kept:
        for n in numbers:
            order.setdefault(n, len(order) + 1)
        body = claim if claim[-1] in ".!?" else claim + "."
        parts.append(body + " " + "".join(f"[{order[n]}]" for n in numbers))
    cited = [evidence[n - 1] for n in order]
    confidence = sum(e.score for e in cited) / len(cited)
    return Answer(" ".join(parts), [e.citation() for e in cited], round(confidence, 4), abstained=False)
