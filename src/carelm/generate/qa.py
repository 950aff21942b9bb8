"""Grounded question answering over passages: every sentence of an answer is a cited quote, or there is no answer.

``answer(question, passages)`` works without any language model (the default, *extractive* answer):

1. each passage is split into sentences with exact offsets (:mod:`carelm.generate.qa_text`);
2. each sentence is scored against the question: the share of the question's content-word IDF weight it
   contains (IDF over the candidate sentences), averaged with its MiniLM cosine similarity to the question
   mapped to [0, 1] (``(cos - 0.15) / 0.5``, clipped) when the packaged encoder is installed;
3. the best sentences (at most ``max_sentences``, each scoring at least 70% of the best and at least
   ``min_confidence``) are quoted word for word, each followed by its citation number;
4. the confidence is the best sentence's score; below ``min_confidence`` the answer abstains: its text says
   there is not enough evidence and it has no citations.

A citation is ``Citation(document_id, passage.start + start, passage.start + end, quote, scope)``, so
``stored_text[start:end] == quote`` for the document the passage was cut from.

With a generative ``backend`` the evidence sentences are numbered and the model is asked to answer citing
them by number (:mod:`carelm.generate.qa_generate`).  No claim without a citation: a sentence of the reply
without a valid citation number is dropped, and when nothing cited is left the extractive answer is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carelm.core.errors import InputError
from carelm.core.types import Answer, Citation, Passage
from carelm.generate.base import Backend
from carelm.generate.qa_text import (
    Sentence,
    content_words,
    embed,
    embeddings_available,
    inverse_document_frequencies,
    split_sentences,
    weighted_overlap,
)

DEFAULT_MIN_CONFIDENCE = 0.35
NOT_ENOUGH_EVIDENCE = "Not enough evidence in the available passages to answer this question."
MAX_QUESTION_CHARS = 2000
_SELECT_SHARE = 0.7  # a further sentence must score at least this share of the best one


@dataclass(frozen=True, slots=True)
class Evidence:
    """A sentence of a passage with its relevance to the question (``score`` in [0, 1])."""

    passage: Passage
    sentence: Sentence
    score: float
    lexical: float
    semantic: float | None

    def citation(self) -> Citation:
        """Where the sentence lies in the passage's stored document."""
        start = self.passage.start + self.sentence.start
        return Citation(self.passage.document_id, start, start + len(self.sentence.text), self.sentence.text,
                        self.passage.scope)


def check_question(question: object) -> str:
    """The stripped question; an InputError when it is not a non-empty string of reasonable length."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question must be a non-empty string", location="question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"the question is longer than {MAX_QUESTION_CHARS} characters", location="question")
    return question.strip()


def rank_evidence(question: str, passages: Sequence[Passage], *, use_embeddings: bool | None = None) -> list[Evidence]:
    """Every sentence of ``passages`` scored against ``question``, best first (ties keep passage order)."""
    candidates = [(p, s) for p in passages for s in split_sentences(p.text)]
    if not candidates:
        return []
    words = [content_words(s.text) for _, s in candidates]
    idf = inverse_document_frequencies(words)
    default_idf = float(np.log(1 + len(candidates)))
    asked = content_words(question)
    lexical = [weighted_overlap(asked, w, idf, default_idf) for w in words]
    if use_embeddings is None:
        use_embeddings = embeddings_available()
    semantic: list[float | None] = [None] * len(candidates)
    if use_embeddings:
        vectors = embed([question] + [s.text for _, s in candidates])
        cosines = vectors[1:] @ vectors[0]
        semantic = [float(np.clip((c - 0.15) / 0.5, 0.0, 1.0)) for c in cosines]
    ranked = []
    for (passage, sentence), lex, sem in zip(candidates, lexical, semantic, strict=True):
        score = lex if sem is None else 0.5 * lex + 0.5 * sem
        ranked.append(Evidence(passage, sentence, round(score, 4), round(lex, 4), sem))
    ranked.sort(key=lambda e: -e.score)
    return ranked


def select_evidence(ranked: Sequence[Evidence], *, min_confidence: float, max_sentences: int) -> list[Evidence]:
    """The best sentences worth quoting: above ``min_confidence`` and near the best, no repeated text."""
    if not ranked or ranked[0].score < min_confidence:
        return []
    floor = max(min_confidence, _SELECT_SHARE * ranked[0].score)
    chosen: list[Evidence] = []
    seen: set[str] = set()
    for item in ranked:
        if item.score < floor or len(chosen) >= max_sentences:
            break
        key = " ".join(item.sentence.text.lower().split())
        if key not in seen:
            seen.add(key)
            chosen.append(item)
    return chosen


def abstention(confidence: float = 0.0) -> Answer:
    """The answer given when the evidence is too weak: no content, no citations."""
    return Answer(NOT_ENOUGH_EVIDENCE, [], round(confidence, 4), abstained=True)


def extractive_answer(chosen: Sequence[Evidence]) -> Answer:
    """The chosen sentences quoted verbatim, each followed by its citation number."""
    citations = [e.citation() for e in chosen]
    text = " ".join(f"{c.quote} [{n}]" for n, c in enumerate(citations, start=1))
    return Answer(text, citations, round(chosen[0].score, 4), abstained=False)


def answer(
    question: str,
    passages: Sequence[Passage],
    *,
    backend: Backend | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    max_sentences: int = 3,
    use_embeddings: bool | None = None,
) -> Answer:
    """A grounded answer to ``question`` from ``passages`` (see the module docstring); abstains on weak evidence."""
    question = check_question(question)
    if not 0.0 <= min_confidence <= 1.0:
        raise InputError("min_confidence must lie in [0, 1]", location="min_confidence")
    ranked = rank_evidence(question, passages, use_embeddings=use_embeddings)
    chosen = select_evidence(ranked, min_confidence=min_confidence, max_sentences=max_sentences)
    if not chosen:
        return abstention(ranked[0].score if ranked else 0.0)
    if backend is None or getattr(backend, "name", "") == "extractive":
        return extractive_answer(chosen)
    from carelm.generate.qa_generate import generated_answer

    offered = [e for e in ranked if e.score >= min_confidence][: max(2 * max_sentences, 6)]
    return generated_answer(question, offered, backend) or extractive_answer(chosen)
