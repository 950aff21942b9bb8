"""Features of a yes/no/maybe question over abstract contexts, for :mod:`carelm.generate.closed`.

The last context is read as the results (in structured abstracts it is the RESULTS section).  Features:

* counts (``log1p``) of negative-finding cues ("no significant", "did not", "was not associated", "similar"),
  positive-finding cues ("significantly", "associated with", "improved", odds ratios), hedges ("may",
  "trend", "however") and p-values below / at or above 0.05 in the results;
* the same cue families in each sentence, averaged with four weightings: the sentences' MiniLM similarity to the
  question (a softmax over all sentences, and over the results only), uniform over the results, and the last
  two result sentences (where the main finding usually stands);
* question shape: negated ("not", "n't"), alternative ("or"), "is/are", "does/do/did", "can/could", "should",
  doubt words ("really", "still", "worth"), necessity, safety, effectiveness, association, comparison,
  "myth/fact/true", a colon (a title turned into a question);
* the largest and mean similarity of a sentence to the question, the results length and the context count.

Feature names are fixed here and recorded in every model file, so a model never reads features it was not
trained on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carelm.generate.qa_text import Sentence, split_sentences

NEGATIVE = {
    "no_significant": r"\bno (?:statistically )?significant", "not_significant": r"\bnot (?:statistically )?signific",
    "did_not": r"\bdid not\b", "do_not": r"\bdo(?:es)? not\b", "was_not": r"\b(?:was|were) not\b",
    "not_associated": r"\bnot (?:\w+ )?(?:associated|related|correlated)\b",
    "no_effect": r"\bno (?:association|correlation|relationship|differences?|effect|evidence|benefit|improvement|"
                 r"change|increase|decrease)", "not_differ": r"\bnot differ", "failed": r"\bfail(?:ed|s)? to\b",
    "neither": r"\bneither\b|\bnor\b", "nonsignificant": r"\bnon-?significant|\bn\.?s\.", "similar": r"\bsimilar\b",
    "comparable": r"\bcomparable\b", "unable": r"\bunable\b", "not": r"\bnot\b", "no": r"\bno\b",
    "independent": r"\bindependent of\b", "unchanged": r"\bunchanged\b|\bunaffected\b", "regardless": r"\bregardless\b",
}
POSITIVE = {
    "significant": r"\bsignificant(?:ly)?\b", "associated_with": r"\bassociated with\b",
    "increased": r"\bincrease[ds]?\b", "improved": r"\bimprove[ds]?\b|\bimprovement", "reduced": r"\breduce[ds]?\b|"
    r"\breduction", "higher": r"\bhigher\b", "lower": r"\blower\b", "greater": r"\bgreater\b", "better": r"\bbetter\b",
    "predicts": r"\bpredict", "risk_factor": r"\brisk factor", "correlated": r"\bcorrelat", "effective": r"\beffective",
    "superior": r"\bsuperior\b", "ratio": r"\bodds ratio|\b(?:or|hr|rr)\s*=",
}
HEDGES = {
    "may": r"\bmay\b", "might": r"\bmight\b", "trend": r"\btrend", "tended": r"\btended\b", "marginal": r"\bmarginal",
    "borderline": r"\bborderline", "however": r"\bhowever\b", "although": r"\balthough\b", "but": r"\bbut\b",
    "limited": r"\blimited\b", "unclear": r"\bunclear\b", "possible": r"\bpossibl", "suggest": r"\bsuggest",
    "only": r"\bonly\b", "some": r"\bsome\b", "partial": r"\bpartial", "near_significance": r"\bapproach(?:ed|ing) "
    r"significance",
}
QUESTION_CUES = {
    "q_negated": r"\bnot\b|n't\b", "q_or": r"\bor\b", "q_is": r"^(?:is|are)\b", "q_does": r"^(?:does|do|did)\b",
    "q_can": r"^(?:can|could)\b", "q_should": r"^should\b", "q_doubt": r"\breally\b|\bstill\b|\bjustified\b|\bworth",
    "q_necessary": r"\bnecessary\b|\brequired\b|\bneeded\b", "q_safe": r"\bsafe\b",
    "q_effective": r"\beffective\b|\befficacious\b", "q_association": r"\bassociated\b|\brelated\b|\bpredict",
    "q_better": r"\bbetter\b|\bimprove|\bsuperior\b", "q_truth": r"\bmyth\b|\bfact\b|\btrue\b", "q_colon": r":",
}
_STRONG_NEGATIVE = [k for k in NEGATIVE if k not in ("not", "no")]
_COMPILED = {k: re.compile(v) for k, v in {**NEGATIVE, **POSITIVE, **HEDGES}.items()}
_QUESTION = {k: re.compile(v) for k, v in QUESTION_CUES.items()}
_P_VALUE = re.compile(r"\bp\s*(?:value)?\s*(<|>|=|≤|≥|&lt;|&gt;|<or=|>or=)\s*(0?\.\d+|1(?:\.0+)?)\b", re.IGNORECASE)
FAMILIES = ("negative", "positive", "hedge", "p_low", "p_high")
WEIGHTINGS = ("relevant", "relevant_results", "results", "last_results")
FEATURE_NAMES = (
    [f"results_{k}" for k in _COMPILED] + ["results_p_low", "results_p_high", "results_has_p_low", "results_has_p_high"]
    + list(QUESTION_CUES) + [f"{w}_{f}" for w in WEIGHTINGS for f in FAMILIES]
    + ["similarity_max", "similarity_max_results", "similarity_mean", "results_length", "context_count"]
)


@dataclass(frozen=True, slots=True)
class ContextSentence:
    """A sentence of context number ``context`` with its MiniLM similarity to the question."""

    context: int
    sentence: Sentence
    similarity: float


def cue_counts(text: str) -> dict[str, int]:
    """How often each negative, positive and hedge cue occurs in ``text``."""
    lower = text.lower()
    return {name: len(pattern.findall(lower)) for name, pattern in _COMPILED.items()}


def p_values(text: str) -> tuple[int, int]:
    """Counts of reported p-values below 0.05, and at or above it."""
    low = high = 0
    for match in _P_VALUE.finditer(text):
        operator, value = match.group(1), float(match.group(2))
        if operator in ("<", "≤", "&lt;", "<or=") or (operator == "=" and value < 0.05):
            low += 1
        elif value >= 0.05:
            high += 1
    return low, high


def family_scores(text: str) -> list[float]:
    """Negative, positive and hedge cue totals and p-value counts of one sentence, each capped at 3."""
    counts = cue_counts(text)
    low, high = p_values(text)
    totals = [sum(counts[k] for k in _STRONG_NEGATIVE), sum(counts[k] for k in POSITIVE),
              sum(counts[k] for k in HEDGES), low, high]
    return [min(float(t), 3.0) for t in totals]


def split_contexts(contexts: Sequence[str]) -> list[tuple[int, Sentence]]:
    """Every sentence of the contexts with the index of its context."""
    return [(i, s) for i, text in enumerate(contexts) for s in split_sentences(text)]


def scored_sentences(pieces: Sequence[tuple[int, Sentence]], vectors: np.ndarray) -> list[ContextSentence]:
    """The sentences with their similarity to the question; ``vectors`` holds the question's first, then theirs."""
    similarities = vectors[1:] @ vectors[0] if pieces else np.zeros(0)
    return [ContextSentence(i, s, float(sim)) for (i, s), sim in zip(pieces, similarities, strict=True)]


def _weightings(sentences: Sequence[ContextSentence], last: int) -> list[np.ndarray]:
    sims = np.array([s.similarity for s in sentences])
    in_results = np.array([s.context == last for s in sentences], dtype=float)
    relevant = np.exp(10 * (sims - sims.max()))
    relevant_results = relevant * in_results
    tail = np.zeros(len(sentences))
    positions = np.flatnonzero(in_results)
    tail[positions[-1:]] = 1.0
    tail[positions[-2:-1]] = 0.5
    out = []
    for weights in (relevant, relevant_results, in_results, tail):
        total = weights.sum()
        out.append(weights / total if total > 0 else weights)
    return out


def features(question: str, contexts: Sequence[str], sentences: Sequence[ContextSentence]) -> np.ndarray:
    """The feature vector (in :data:`FEATURE_NAMES` order) of one question over its contexts."""
    results = contexts[-1]
    counts = cue_counts(results)
    low, high = p_values(results)
    row = [float(np.log1p(counts[k])) for k in _COMPILED]
    row += [float(np.log1p(low)), float(np.log1p(high)), float(low > 0), float(high > 0)]
    asked = question.lower().strip()
    row += [float(bool(p.search(asked))) for p in _QUESTION.values()]
    if sentences:
        scores = np.array([family_scores(s.sentence.text) for s in sentences])
        for weights in _weightings(sentences, len(contexts) - 1):
            row += list(weights @ scores)
        sims = np.array([s.similarity for s in sentences])
        in_results = [s.similarity for s in sentences if s.context == len(contexts) - 1]
        row += [float(sims.max()), max(in_results, default=0.0), float(sims.mean())]
    else:
        row += [0.0] * (len(WEIGHTINGS) * len(FAMILIES) + 3)
    row += [float(np.log(max(1, len(results.split())))), float(len(contexts))]
    return np.array(row, dtype=np.float64)
