"""Ask use-cases: grounded answers over the stored records and literature, and yes/no/maybe over given abstracts.

``ask`` retrieves passages with :func:`carelm.service.search.search_passages` and answers from them with
:func:`carelm.generate.qa.answer`: extractive by default, or through the configured language-model backend
(``CARELM_LLM_BACKEND``) whose answer keeps only sentences citing the evidence.  The closed form
(:mod:`carelm.generate.closed`) needs no store.  Logs carry counts and ids, never question or note text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.core.types import Answer
from carelm.generate import closed, qa
from carelm.generate.base import Backend
from carelm.service.context import Context
from carelm.service.jsonl import INVALID, in_batches, json_objects
from carelm.service.search import SCOPES, search_passages

log = logging.getLogger(__name__)
MAX_K = 50
CLOSED_BATCH = 32


def answer_backend(ctx: Context) -> Backend | None:
    """The configured generative backend, or None for the built-in extractive answer."""
    if ctx.settings.llm_backend == "extractive":
        return None
    from carelm.service.chat import configured_backend

    return configured_backend(ctx)


def ask(ctx: Context, question: str, *, patient: str | None = None, scope: str = "both", k: int = 10,
        min_confidence: float = qa.DEFAULT_MIN_CONFIDENCE) -> Answer:
    """A grounded answer to ``question`` from the ``k`` best passages of ``scope`` (a patient's records only
    with ``patient``); abstains when the passages do not answer it."""
    question = qa.check_question(question)
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; accepted: {', '.join(SCOPES)}", location="scope")
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be between 1 and {MAX_K}", location="k")
    passages = search_passages(ctx, question, scope=scope, k=k, patient=patient)
    result = qa.answer(question, passages, backend=answer_backend(ctx), min_confidence=min_confidence)
    log.info("question answered", extra={"passages": len(passages), "citations": len(result.citations),
                                         "abstained": result.abstained,
                                         "documents": sorted({c.document_id for c in result.citations})})
    return result


def answer_to_dict(result: Answer) -> dict[str, Any]:
    """The JSON form of an answer: ``{answer, citations[{document_id, start, end, quote, scope}], confidence,
    abstained}``."""
    return {
        "answer": result.text,
        "citations": [{"document_id": c.document_id, "start": c.start, "end": c.end, "quote": c.quote,
                       "scope": c.scope} for c in result.citations],
        "confidence": result.confidence,
        "abstained": result.abstained,
    }


def answer_closed(item: dict[str, Any], model_path: Path | None = None) -> dict[str, Any]:
    """The yes/no/maybe answer to one ``{"id"?, "question", "contexts"}`` object."""
    checked = closed.check_item(item, "body")
    return closed.answer_items([checked], closed.load_model(model_path))[0]


def read_closed_jsonl(lines: Iterable[str], name: str, *, labelled: bool = False) -> Iterator[dict[str, Any]]:
    """Items of a JSONL stream; a bad line becomes ``{"id", "error": "FILE:LINE: what was wrong"}``."""
    for location, obj in json_objects(lines, name):
        if obj is INVALID:
            yield {"id": None, "error": f"{location}: not valid JSON"}
            continue
        try:
            yield closed.check_item(obj, location, labelled=labelled)
        except InputError as exc:
            yield {"id": obj.get("id") if isinstance(obj, dict) else None, "error": str(exc)}


def answer_closed_lines(lines: Iterable[str], name: str, model_path: Path | None = None) -> Iterator[dict[str, Any]]:
    """One output per non-blank input line, in order: an answer, or ``{"id", "error"}`` for a bad line."""
    model = closed.load_model(model_path)
    for batch in in_batches(read_closed_jsonl(lines, name), CLOSED_BATCH):
        good = [item for item in batch if "error" not in item]
        answers = iter(closed.answer_items(good, model))
        for item in batch:
            yield item if "error" in item else next(answers)


def train_closed(in_path: Path, out_path: Path, *, c: float = closed.DEFAULT_C) -> dict[str, Any]:
    """Fit a yes/no/maybe model on a labelled JSONL file (``answer`` or ``final_decision`` on each line) and
    write it to ``out_path``; any bad line is an InputError naming FILE:LINE."""
    try:
        with in_path.open(encoding="utf-8") as lines:
            items = list(read_closed_jsonl(lines, str(in_path), labelled=True))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(in_path)) from None
    bad = [item["error"] for item in items if "error" in item]
    if bad:
        raise InputError(f"{len(bad)} bad line(s); the first: {bad[0]}", location=str(in_path))
    model = closed.train(items, c=c, source=f"{in_path.name} ({len(items)} labelled questions)")
    closed.save_model(model, out_path)
    log.info("yes/no/maybe model trained", extra={"examples": len(items), "path": str(out_path)})
    return model
