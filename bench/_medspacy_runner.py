"""Runs medspaCy offline; the baseline side of bench/assertion.py and bench/pipeline_mtsamples.py.

Runs only in its own venv (bash bench/setup-assertion-baselines.sh), never in the product's:

    bench/.venv-assertion/bin/python bench/_medspacy_runner.py assert IN.jsonl OUT.jsonl
    bench/.venv-assertion/bin/python bench/_medspacy_runner.py pipeline IN.jsonl OUT.json
    bench/.venv-assertion/bin/python bench/_medspacy_runner.py check

``assert``: IN.jsonl holds one ``{"id", "text", "start", "end"}`` per line (a sentence and the character
offsets of its target).  Each text goes through a blank English tokenizer; the whole text is made one
sentence, the target span becomes the only entity, and medspaCy's ConText component with its default rules
judges it.  OUT.jsonl gets one ``{"id", "is_negated", "is_uncertain", "is_historical", "is_hypothetical",
"is_family"}`` per line (all false and ``"aligned": false`` where the offsets fall inside a token and cannot
be widened), then a last line ``{"meta": {...}}``: seconds spent in tokenizing plus ConText over all rows,
after one untimed warm-up row.

``pipeline``: IN.jsonl holds ``{"terms": [{"literal": ..., "category": ...}, ...]}`` lines (target rules)
and ``{"id", "text"}`` lines (notes).  medspaCy's usual pipeline is built with ``medspacy.load``: PyRuSH
sentence splitter, target matcher (with the given rules), ConText (default rules) and sectionizer (default
rules), on a blank English tokenizer, with PyRuSH's per-sentence DEBUG logging (loguru) switched off.
OUT.json gets notes, seconds, notes/s, chars/s, entities found and how many ConText flagged negated, the
seconds each component took (a second, untimed-in-the-total pass), and the process's peak RSS
(``resource.getrusage``, MB) after the run.  The first note is a warm-up and is not timed.

Network access is cut off in this process (sockets refuse to connect), so a run that finishes proves that
medspaCy ran offline.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import time
from pathlib import Path

FLAGS = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")


def quiet_logging() -> None:
    """PyRuSH logs every sentence boundary at DEBUG level through loguru; keep that out of the timings."""
    from loguru import logger

    logger.disable("PyRuSH")


def cut_network() -> None:
    """Make every outgoing connection fail, so nothing can be fetched at run time."""

    def refuse(*_args, **_kwargs):
        raise OSError("network disabled by bench/_medspacy_runner.py")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- assert mode


def context_nlp():
    """A blank English tokenizer with medspaCy's ConText (default rules) as its only component."""
    import spacy
    from medspacy.context import ConText  # noqa: F401  (registers the component factory)

    nlp = spacy.blank("en")
    nlp.add_pipe("medspacy_context")
    return nlp


def judge(nlp, text: str, start: int, end: int) -> dict:
    from spacy.tokens import Span

    doc = nlp.make_doc(text)
    for index, token in enumerate(doc):
        token.is_sent_start = index == 0
    target = doc.char_span(start, end, label="TARGET", alignment_mode="expand")
    if target is None:
        return {flag: False for flag in FLAGS} | {"aligned": False}
    doc.ents = [Span(doc, target.start, target.end, label="TARGET")]
    doc = nlp.get_pipe("medspacy_context")(doc)
    ent = doc.ents[0]
    return {flag: bool(getattr(ent._, flag)) for flag in FLAGS}


def run_assert(in_path: Path, out_path: Path) -> None:
    rows = _read_jsonl(in_path)
    nlp = context_nlp()
    if rows:
        judge(nlp, rows[0]["text"], rows[0]["start"], rows[0]["end"])  # warm-up, not timed
    begin = time.perf_counter()
    got = [judge(nlp, row["text"], row["start"], row["end"]) for row in rows]
    seconds = time.perf_counter() - begin
    meta = {"seconds": seconds, "rows": len(rows), "medspacy_version": _version("medspacy"),
            "spacy_version": _version("spacy"), "peak_rss_mb": peak_rss_mb()}
    with out_path.open("w", encoding="utf-8") as out:
        for row, flags in zip(rows, got, strict=True):
            out.write(json.dumps({"id": row["id"], **flags}) + "\n")
        out.write(json.dumps({"meta": meta}) + "\n")


# ---------------------------------------------------------------- pipeline mode


def pipeline_nlp(terms: list[dict]):
    """medspaCy's usual pipeline: PyRuSH, target matcher with ``terms``, ConText, sectionizer."""
    import medspacy
    from medspacy.ner import TargetRule

    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush", "medspacy_target_matcher", "medspacy_context",
                                         "medspacy_sectionizer"])
    rules = [TargetRule(term["literal"], term["category"]) for term in terms]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    return nlp


def run_pipeline(in_path: Path, out_path: Path) -> None:
    lines = _read_jsonl(in_path)
    terms = [term for line in lines if "terms" in line for term in line["terms"]]
    notes = [line for line in lines if "text" in line]
    begin = time.perf_counter()
    nlp = pipeline_nlp(terms)
    load_seconds = time.perf_counter() - begin
    if notes:
        nlp(notes[0]["text"])  # warm-up, not timed
    ents = negated = 0
    begin = time.perf_counter()
    for doc in nlp.pipe(note["text"] for note in notes):
        ents += len(doc.ents)
        negated += sum(bool(ent._.is_negated) for ent in doc.ents)
    seconds = time.perf_counter() - begin
    chars = sum(len(note["text"]) for note in notes)
    components = {"tokenizer": 0.0} | {name: 0.0 for name in nlp.pipe_names}
    for note in notes:
        mark = time.perf_counter()
        doc = nlp.make_doc(note["text"])
        components["tokenizer"] += time.perf_counter() - mark
        for name, component in nlp.pipeline:
            mark = time.perf_counter()
            doc = component(doc)
            components[name] += time.perf_counter() - mark
    report = {
        "notes": len(notes), "chars": chars, "seconds": seconds, "load_seconds": load_seconds,
        "notes_per_s": len(notes) / seconds if seconds else None, "chars_per_s": chars / seconds if seconds else None,
        "target_rules": len(terms), "entities": ents, "negated": negated, "component_seconds": components,
        "peak_rss_mb": peak_rss_mb(),
        "pipe_names": nlp.pipe_names, "medspacy_version": _version("medspacy"), "spacy_version": _version("spacy"),
    }
    out_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- check


def check() -> None:
    nlp = context_nlp()
    text = "The patient denies chest pain. Mother had diabetes."
    negated = judge(nlp, text, text.index("chest"), text.index(".")).get("is_negated")
    family = judge(nlp, text, text.index("diabetes"), len(text) - 1).get("is_family")
    full = pipeline_nlp([{"literal": "chest pain", "category": "PROBLEM"}])
    doc = full("She has no chest pain. She is well.")
    if not (negated and family and len(doc.ents) == 1 and doc.ents[0]._.is_negated):
        sys.exit(f"medspacy check failed: negated={negated} family={family} ents={list(doc.ents)}")
    print(f"medspacy {_version('medspacy')} (spaCy {_version('spacy')}) ran offline: {full.pipe_names}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("assert", "pipeline", "check"))
    parser.add_argument("inp", nargs="?", type=Path)
    parser.add_argument("out", nargs="?", type=Path)
    args = parser.parse_args(argv)
    cut_network()
    quiet_logging()
    if args.mode == "check":
        check()
    elif args.inp is None or args.out is None:
        parser.error("give IN and OUT")
    elif args.mode == "assert":
        run_assert(args.inp, args.out)
    else:
        run_pipeline(args.inp, args.out)


if __name__ == "__main__":
    main()
