"""Citation faithfulness of patient summaries: do citations resolve to stored spans and hold their facts?

Usage:

    .venv/bin/python bench/citations.py [--corpus FILE.jsonl] [--limit N] [--data DIR] [--physionet N] [--json OUT]

The corpus (default: the bundled sample, ``carelm demo``'s data) is ingested into a temporary SQLite store
and processed by the default pipeline with the existing services; every patient is summarised and every
citation of every item checked against the store (``carelm.generate.faithfulness``).  ``--physionet N`` adds
the first N nursing notes of ``DATA/deid_physionet/dev.jsonl`` (``--data``, else ``$CARELM_SHARED_DATA``, else
``../shared/data``) as a second corpus.

Baseline in the same run: the same summaries built without moving annotation offsets (which index the raw
text) into the de-identified text, i.e. raw offsets applied to the de-identified text.  Its quotes still
"resolve" (they are slices of the stored text) but often miss the fact they are meant to hold.
Target: 100% of summary items carry a citation that resolves to a stored span.  Failures print ids only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from carelm.core.settings import get_settings
from carelm.generate.faithfulness import FaithfulnessReport, check_summary
from carelm.generate.summary import build_summary
from carelm.service import ingest as ingest_service
from carelm.service import process as process_service
from carelm.service import summary as summary_service
from carelm.service.context import Context
from carelm.service.demo import sample_path

TARGET_CITED_PCT = 100.0


def fill(ctx: Context, corpus: Path, limit: int | None) -> tuple[int, float]:
    """Ingest (at most ``limit`` lines of) a JSONL corpus and process it; (notes, seconds)."""
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    start = time.perf_counter()
    for number, line in enumerate(lines, start=1):
        ingest_service.ingest_payload(ctx, json.loads(line), location=f"{corpus.name}:{number}")
    report = process_service.process_notes(ctx, on_batch=lambda n: print(".", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    return report.notes_done, time.perf_counter() - start


def physionet_corpus(data: Path, count: int, out: Path) -> Path:
    """The first ``count`` PhysioNet nursing notes as note objects (one patient per ``patient``)."""
    source = data / "deid_physionet" / "dev.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()][:count]
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            note = {"id": f"pn-{row['patient']}-{row['note']}", "patient": {"id": f"pn-{row['patient']}"},
                    "kind": "nursing_note", "text": row["text"]}
            fh.write(json.dumps(note) + "\n")
    return out


def patients(ctx: Context) -> list[str]:
    total = ctx.store.records.count_records()
    records = ctx.store.records.list_records(limit=max(total, 1))
    return sorted({record.patient_id for record in records})


def without_offset_mapping(ctx: Context, patient_id: str):
    """The baseline summary: ``phi`` layers dropped, so raw offsets are used on the de-identified text as is."""
    notes, items = summary_service.load_sources(ctx, patient_id)
    for note in notes:
        note.layers = {name: spans for name, spans in note.layers.items() if name != "phi"}
    return build_summary(patient_id, notes, items)


def measure(ctx: Context) -> dict[str, Any]:
    ours, baseline = FaithfulnessReport(), FaithfulnessReport()
    stored = summary_service.StoredCitations(ctx)
    seconds = 0.0
    ids = patients(ctx)
    for patient_id in ids:
        start = time.perf_counter()
        summary = summary_service.summarize_patient(ctx, patient_id)
        seconds += time.perf_counter() - start
        for report, built in ((ours, summary), (baseline, without_offset_mapping(ctx, patient_id))):
            found = check_summary(built, stored)
            for failure in found.failures:
                failure["patient"] = patient_id
            report.merge(found)
    return {"patients": len(ids), "summarise_ms_per_patient": round(1000 * seconds / max(len(ids), 1), 1),
            "carelm": ours.to_dict(), "baseline_raw_offsets": baseline.to_dict()}


def show(name: str, notes: int, processing: float, result: dict[str, Any]) -> None:
    print(f"\n{name}: {notes} notes, {result['patients']} patients; processing {processing:.1f} s, "
          f"summary {result['summarise_ms_per_patient']} ms per patient")
    print(f"{'system':<34}{'items':>7}{'cited %':>9}{'citations':>11}{'resolved %':>12}{'facts %':>9}")
    rows = (("carelm (offsets moved to deid)", "carelm"), ("baseline: raw offsets on deid", "baseline_raw_offsets"))
    for label, key in rows:
        row = result[key]
        print(f"{label:<34}{row['items_checked']:>7}{row['items_cited_pct']:>9}{row['citations']:>11}"
              f"{row['resolved_pct']:>12}{row['facts_contained_pct']:>9}")
    failures = result["carelm"]["failures"]
    print(f"target: {TARGET_CITED_PCT}% of items cited -> "
          f"{'met' if result['carelm']['items_cited_pct'] >= TARGET_CITED_PCT else 'missed'}; "
          f"{len(failures)} failure(s)")
    for failure in failures[:40]:
        print("  " + " ".join(f"{k}={v}" for k, v in failure.items()))


def run(corpus: Path, limit: int | None) -> tuple[int, float, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="carelm-citations-") as tmp:
        key = base64.b64encode(os.urandom(32)).decode()
        ctx = Context(get_settings(profile="test", data_dir=Path(tmp) / "data", secret_key=key), actor="bench")
        try:
            notes, seconds = fill(ctx, corpus, limit)
            return notes, seconds, measure(ctx)
        finally:
            ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="JSONL note objects (default: bundled sample)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N lines of the corpus")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CARELM_SHARED_DATA", "../shared/data")))
    parser.add_argument("--physionet", type=int, default=0, help="also summarise N PhysioNet nursing notes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = {}
    corpus = args.corpus or sample_path()
    notes, seconds, results["corpus"] = run(corpus, args.limit)
    show(f"corpus {corpus.name}", notes, seconds, results["corpus"])
    if args.physionet:
        with tempfile.TemporaryDirectory() as tmp:
            extra = physionet_corpus(args.data, args.physionet, Path(tmp) / "physionet.jsonl")
            notes, seconds, results["physionet"] = run(extra, None)
        show(f"PhysioNet deid nursing notes (first {args.physionet})", notes, seconds, results["physionet"])
    if args.json:
        partial = args.json.with_name(args.json.name + ".partial")
        partial.write_text(json.dumps(results, indent=2), encoding="utf-8")
        os.replace(partial, args.json)


if __name__ == "__main__":
    main()
