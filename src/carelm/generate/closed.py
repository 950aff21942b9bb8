"""Yes/no/maybe answers to a question over given abstract contexts (the PubMedQA form), with cited sentences.

Input ``{"id", "question", "contexts": [str, ...]}``; output ``{"id", "answer": "yes"|"no"|"maybe", "rationale",
"citations": [{"context", "start", "end", "quote"}], "scores": {label: probability}}``, where
``contexts[context][start:end] == quote``.

The decision is a multinomial logistic regression over the cue and similarity features of
:mod:`carelm.generate.qa_closed_features`: no language model, only the packaged MiniLM encoder for sentence
similarities.  The weights live in a small JSON file (``carelm.closed_qa`` format: feature names, the
standardisation, coefficients, and how it was made).  The default file ships in
``resources/qa/closed_pubmedqa.json``, trained on the PubMedQA PQA-L labelled set (MIT licence) by
``bench/pubmedqa.py --save-model``; :func:`train` fits a new one from labelled examples
(``carelm ask --train LABELLED.jsonl --model OUT.json``).

The citations are the two sentences most similar to the question, result sentences and sentences carrying a
finding cue preferred; the rationale names the answer's probability and the cues found in them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from carelm.core.errors import ConfigError, InputError
from carelm.generate.qa_closed_features import (
    FEATURE_NAMES,
    NEGATIVE,
    ContextSentence,
    cue_counts,
    features,
    p_values,
    scored_sentences,
    split_contexts,
)
from carelm.generate.qa_text import embed

LABELS = ("yes", "no", "maybe")
FORMAT = "carelm.closed_qa"
MAX_CONTEXTS = 50
MAX_CONTEXT_CHARS = 20_000
DEFAULT_C = 0.01  # inverse L2 strength: chosen by cross-validation on PubMedQA (bench/pubmedqa.py)


def check_item(obj: Any, location: str, *, labelled: bool = False) -> dict[str, Any]:
    """A validated ``{"id", "question", "contexts"[, "answer"]}``; an InputError naming ``location`` otherwise."""
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object {\"id\", \"question\", \"contexts\": [str, ...]}", location=location)
    allowed = {"id", "question", "contexts"} | ({"answer", "final_decision"} if labelled else set())
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InputError(f"unknown field(s) {unknown}; accepted: {sorted(allowed)}", location=location)
    question, contexts = obj.get("question"), obj.get("contexts")
    if not isinstance(question, str) or not question.strip():
        raise InputError("'question' must be a non-empty string", location=location)
    if (not isinstance(contexts, list) or not contexts or len(contexts) > MAX_CONTEXTS
            or not all(isinstance(c, str) and c.strip() for c in contexts)):
        raise InputError(f"'contexts' must be a list of 1 to {MAX_CONTEXTS} non-empty strings", location=location)
    if any(len(c) > MAX_CONTEXT_CHARS for c in contexts):
        raise InputError(f"a context is longer than {MAX_CONTEXT_CHARS} characters", location=location)
    item = {"id": obj.get("id"), "question": question.strip(), "contexts": contexts}
    if labelled:
        label = obj.get("answer", obj.get("final_decision"))
        if label not in LABELS:
            raise InputError(f"'answer' must be one of {', '.join(LABELS)}", location=location)
        item["answer"] = label
    return item


def featurise(items: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[list[ContextSentence]]]:
    """Feature rows of ``items`` and their scored sentences; one MiniLM call for all of them."""
    pieces = [split_contexts(it["contexts"]) for it in items]
    texts = [t for it, ps in zip(items, pieces, strict=True) for t in [it["question"]] + [s.text for _, s in ps]]
    vectors = embed(texts)
    offset, rows, scored = 0, [], []
    for item, ps in zip(items, pieces, strict=True):
        sentences = scored_sentences(ps, vectors[offset : offset + 1 + len(ps)])
        offset += 1 + len(ps)
        scored.append(sentences)
        rows.append(features(item["question"], item["contexts"], sentences))
    return np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES))), scored


def fit(rows: np.ndarray, labels: Sequence[str], *, c: float = DEFAULT_C) -> dict[str, Any]:
    """Model weights (``carelm.closed_qa`` format) fitted on feature ``rows`` and their labels."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ConfigError("training needs scikit-learn (installed with the 'ml' extra)") from None
    if len(set(labels)) < 2:
        raise InputError("training needs examples of at least two answers (yes, no, maybe)")
    mean = rows.mean(axis=0).round(6)  # rounded before use: the file holds exactly what the fit used
    scale = rows.std(axis=0).round(6)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=5000).fit((rows - mean) / scale, list(labels))
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # a binary fit has one row: the second class against the first
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    return {"format": FORMAT, "version": 1, "features": list(FEATURE_NAMES), "classes": list(model.classes_),
            "mean": mean.tolist(), "scale": scale.tolist(), "coef": coef.round(6).tolist(),
            "intercept": intercept.round(6).tolist(), "c": c, "examples": len(labels),
            "created": datetime.now(UTC).isoformat(timespec="seconds")}


def train(examples: Sequence[dict[str, Any]], *, c: float = DEFAULT_C, source: str = "") -> dict[str, Any]:
    """A model fitted on labelled items (each with ``answer``); ``source`` is recorded in the file."""
    rows, _ = featurise(examples)
    model = fit(rows, [e["answer"] for e in examples], c=c)
    model["trained_on"] = source
    return model


def save_model(model: dict[str, Any], path: Path) -> None:
    """Write ``model`` as JSON, atomically."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_model(path: str | Path | None = None) -> dict[str, Any]:
    """The model in ``path``, or the shipped PubMedQA model; a ConfigError when unreadable or incompatible."""
    if path is None:
        return _shipped()
    try:
        model = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the yes/no/maybe model ({type(exc).__name__})", location=str(path)) from None
    return _checked(model, str(path))


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    source = resources.files("carelm") / "resources" / "qa" / "closed_pubmedqa.json"
    try:
        model = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError("the shipped yes/no/maybe model is missing; reinstall carelm or pass --model") from None
    return _checked(model, "resources/qa/closed_pubmedqa.json")


def _checked(model: Any, where: str) -> dict[str, Any]:
    if not isinstance(model, dict) or model.get("format") != FORMAT:
        raise ConfigError(f"not a {FORMAT} model file", location=where)
    if model.get("features") != list(FEATURE_NAMES):
        raise ConfigError("the model was trained on other features than this version computes; retrain it",
                          location=where)
    return model


def probabilities(model: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """Class probabilities (columns in ``model["classes"]`` order) for feature ``rows``."""
    z = ((rows - np.array(model["mean"])) / np.array(model["scale"])) @ np.array(model["coef"]).T
    z = z + np.array(model["intercept"])
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _cited(sentences: Sequence[ContextSentence], limit: int = 2) -> list[ContextSentence]:
    """The sentences the answer rests on: similar to the question, preferring findings (result sentences and
    sentences with a finding cue) over background that merely restates the question."""
    last = max((s.context for s in sentences), default=0)

    def weight(s: ContextSentence) -> float:
        counts = cue_counts(s.sentence.text)
        has_cue = any(counts[k] for k in NEGATIVE) or counts["significant"] or any(p_values(s.sentence.text))
        return s.similarity + (0.15 if has_cue else 0.0) + (0.2 if s.context == last else 0.0)

    return sorted(sentences, key=weight, reverse=True)[:limit]


def _rationale(label: str, probability: float, cited: Sequence[ContextSentence]) -> str:
    found: list[str] = []
    for s in cited:
        counts = cue_counts(s.sentence.text)
        found += [name.replace("_", " ") for name, n in counts.items() if n and name not in ("not", "no")]
        low, high = p_values(s.sentence.text)
        found += ["p < 0.05"] * bool(low) + ["p ≥ 0.05"] * bool(high)
    cues = ", ".join(dict.fromkeys(found)) or "none"
    return (f"{label} (probability {probability:.2f}) from negation, significance and hedge cues weighted by each "
            f"sentence's similarity to the question; cues in the cited sentences: {cues}.")


def answer_items(items: Sequence[dict[str, Any]], model: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Answers to validated items (see :func:`check_item`), in order."""
    if not items:
        return []
    model = model or load_model()
    rows, scored = featurise(items)
    probs = probabilities(model, rows)
    out = []
    for item, sentences, p in zip(items, scored, probs, strict=True):
        best = int(np.argmax(p))
        label = model["classes"][best]
        cited = _cited(sentences)
        citations = [{"context": s.context, "start": s.sentence.start, "end": s.sentence.end,
                      "quote": s.sentence.text} for s in cited]
        out.append({"id": item["id"], "answer": label, "rationale": _rationale(label, float(p[best]), cited),
                    "citations": citations,
                    "scores": {c: round(float(v), 4) for c, v in zip(model["classes"], p, strict=True)}})
    return out
