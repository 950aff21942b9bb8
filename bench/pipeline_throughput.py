"""Throughput of the default text pipeline beside spaCy's rule-based sentencizer, in the same run.

Usage: python bench/pipeline_throughput.py [--notes N] [--repeat R]

Notes come from carelm's synthetic generator (no shared data needed).  The baseline is
spaCy 3.8 `English()` + `sentencizer` (tokenisation and sentence splitting only) on the same
texts; carelm's figure covers normalisation, section detection and sentence splitting.
Also reports the default pipeline with de-identification (surrogates), and end-to-end
ingest + process throughput on a temporary SQLite database.
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from pathlib import Path

from carelm.core.pipeline import Pipeline
from carelm.core.types import Note
from carelm.synth.generator import generate_records, write_jsonl


def time_it(func, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


TEXT_STAGES = ("carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1")


def notes_per_second(pipeline: Pipeline, texts: list[str], repeat: int) -> float:
    pipeline.warm_up()
    run = lambda: pipeline.run([Note(text=t, id=str(i), patient_id=str(i % 50)) for i, t in enumerate(texts)])  # noqa: E731
    return len(texts) / time_it(run, repeat)


def bench_stages(texts: list[str], repeat: int) -> tuple[float, float, float]:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ours = notes_per_second(Pipeline.from_names(TEXT_STAGES), texts, repeat)
    full = notes_per_second(Pipeline.default(), texts, repeat)
    base = len(texts) / time_it(lambda: list(nlp.pipe(texts, batch_size=64)), repeat)
    return ours, base, full


def bench_end_to_end(records: list[dict]) -> tuple[float, float]:
    from carelm.core.settings import get_settings
    from carelm.service.context import Context
    from carelm.service.ingest import ingest_path
    from carelm.service.process import process_notes

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.jsonl"
        write_jsonl(records, path)
        key = base64.b64encode(os.urandom(32)).decode()
        ctx = Context(get_settings(profile="test", data_dir=Path(tmp) / "data", secret_key=key))
        _ = ctx.store
        start = time.perf_counter()
        ingest_path(ctx, path)
        ingest_s = time.perf_counter() - start
        start = time.perf_counter()
        process_notes(ctx)
        process_s = time.perf_counter() - start
        ctx.close()
    return len(records) / ingest_s, len(records) / process_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    records = generate_records(n_patients=max(1, args.notes // 4), notes_per_patient=4, seed=11)[: args.notes]
    texts = [r["text"] for r in records]
    chars = sum(map(len, texts))
    print(f"{len(texts)} synthetic notes, {chars / len(texts):.0f} chars on average, 1 process")
    ours, base, full = bench_stages(texts, args.repeat)
    print(f"{'normalize+sections+sentences (carelm)':45s} {ours:10.0f} notes/s")
    print(f"{'spaCy blank en + sentencizer (baseline)':45s} {base:10.0f} notes/s")
    print(f"{'ratio carelm / baseline':45s} {ours / base:10.2f}x")
    print(f"{'default pipeline incl. de-identification':45s} {full:10.0f} notes/s")
    ingest_rate, process_rate = bench_end_to_end(records)
    print(f"{'ingest into SQLite (encrypt, hash, commit)':45s} {ingest_rate:10.0f} notes/s")
    print(f"{'process from SQLite (decrypt, run, store)':45s} {process_rate:10.0f} notes/s")


if __name__ == "__main__":
    main()
