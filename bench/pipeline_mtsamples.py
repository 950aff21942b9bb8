"""Throughput and peak memory on MTSamples notes: carelm's default pipeline beside medspaCy and Presidio.

Usage (product venv; the baselines run in their own venvs, made by ``bash bench/setup-assertion-baselines.sh``
for medspaCy and ``bash bench/setup-baselines.sh`` for Presidio; a system whose venv is missing is skipped):

    .venv/bin/python bench/pipeline_mtsamples.py [--data DIR] [--limit N] [--terms K] [--batch B] [--json OUT]

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data`` beside the repository):
``mtsamples/dev.jsonl``, the ``transcription`` field of the first ``--limit`` records (default 300) that have
one.

Systems, each in its own fresh process, one after the other, on the same notes:

- ``carelm``: ``Pipeline.default()`` (normalize, sections, sentences, de-identification, terms, ConText, ICD-10),
  notes in batches of ``--batch`` (default 64) through ``Pipeline.run``.
- ``carelm-no-deid``: the same stages less ``carelm.deid.v1``.
- ``medspacy``: medspaCy's usual pipeline (PyRuSH sentences, target matcher, ConText, sectionizer) via
  bench/_medspacy_runner.py; its target rules are the ``--terms`` (default 300) mention texts carelm's
  default pipeline found most often in these notes, lowercased, with carelm's mention type as category.
- ``presidio``: Presidio's analyzer with its default recognizers on spaCy's small English model, via
  bench/_presidio_runner.py (PHI detection only: compare it with carelm's de-identification share).

notes/s is timed inside each process after the pipeline is built and one warm-up note has gone through it;
loading is not timed.  Peak MB is the process's peak resident set size, from ``os.wait4``'s rusage of that
child process (``ru_maxrss``), so it includes the interpreter, the libraries and the models.  Note text only
ever lies in a temporary folder; ``--json`` holds figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEDSPACY_PYTHON = REPO / "bench" / ".venv-assertion" / "bin" / "python"
MEDSPACY_RUNNER = REPO / "bench" / "_medspacy_runner.py"
PRESIDIO_PYTHON = REPO / "bench" / ".venv-baselines" / "bin" / "python"
PRESIDIO_RUNNER = REPO / "bench" / "_presidio_runner.py"
DEID_STAGE = "carelm.deid.v1"


def load_notes(data: Path, limit: int) -> list[dict]:
    notes: list[dict] = []
    with (data / "mtsamples" / "dev.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if len(notes) >= limit:
                break
            text = json.loads(line).get("transcription") if line.strip() else None
            if text and text.strip():
                notes.append({"id": str(len(notes)), "text": text})
    return notes


# ---------------------------------------------------------------- carelm worker (a child process)


def carelm_worker(system: str, in_path: Path, out_path: Path, batch: int) -> None:
    """Time carelm's pipeline on the notes in ``in_path``; write figures (and mention-text counts) as JSON."""
    from carelm.core.pipeline import DEFAULT_STAGES, Pipeline
    from carelm.core.types import Note

    notes = [json.loads(line) for line in in_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    stages = DEFAULT_STAGES if system == "carelm" else tuple(s for s in DEFAULT_STAGES if s != DEID_STAGE)
    begin = time.perf_counter()
    pipeline = Pipeline.from_names(stages)
    pipeline.warm_up()
    load_seconds = time.perf_counter() - begin

    def make(items: list[dict]) -> list[Note]:
        return [Note(text=item["text"], id=item["id"], patient_id=item["id"]) for item in items]

    if notes:
        pipeline.run(make(notes[:1]))  # warm-up, not timed
    done, failed = [], 0
    begin = time.perf_counter()
    for start in range(0, len(notes), batch):
        result = pipeline.run(make(notes[start:start + batch]))
        done.extend(result.done)
        failed += len(result.failed)
    seconds = time.perf_counter() - begin
    terms: Counter[tuple[str, str]] = Counter()
    for note in done:
        text = note.view("normalized")
        for span in note.layer("mentions"):
            terms[(" ".join(text[span.start:span.end].lower().split()), span.label)] += 1
    chars = sum(len(n["text"]) for n in notes)
    report = {
        "notes": len(notes), "chars": chars, "seconds": seconds, "load_seconds": load_seconds, "failed": failed,
        "notes_per_s": len(notes) / seconds if seconds else None, "chars_per_s": chars / seconds if seconds else None,
        "stages": list(stages), "mentions": sum(terms.values()),
        "negated": sum(bool(s.attributes.get("negated")) for n in done for s in n.layer("mentions")),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "terms": [[term, label, count] for (term, label), count in terms.most_common()],
    }
    out_path.write_text(json.dumps(report) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- running the systems


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``cmd`` to the end; its peak RSS in MB (from wait4's rusage of that child alone)."""
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[1]} failed ({child.returncode}):\n{err.read().decode(errors='replace')[-4000:]}")
    return usage.ru_maxrss / 1024


def run_carelm(system: str, notes_path: Path, tmp: Path, batch: int) -> dict:
    out = tmp / f"{system}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", system, str(notes_path), str(out),
           "--batch", str(batch)]
    peak = run_child(cmd)
    report = json.loads(out.read_text(encoding="utf-8"))
    report["peak_rss_mb"] = peak
    return report


def target_terms(terms: list[list], count: int) -> list[dict]:
    """The ``count`` most frequent mention texts as medspaCy target rules (one category per text)."""
    rules: list[dict] = []
    seen: set[str] = set()
    for term, label, _ in terms:
        if term and term not in seen:
            seen.add(term)
            rules.append({"literal": term, "category": label.upper()})
        if len(rules) >= count:
            break
    return rules


def run_medspacy(notes: list[dict], rules: list[dict], tmp: Path) -> dict:
    inp, out = tmp / "medspacy-in.jsonl", tmp / "medspacy-out.json"
    lines = [json.dumps({"terms": rules})] + [json.dumps(note) for note in notes]
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    peak = run_child([str(MEDSPACY_PYTHON), str(MEDSPACY_RUNNER), "pipeline", str(inp), str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    report["peak_rss_mb"] = peak
    return report


def run_presidio(notes_path: Path, tmp: Path, notes: list[dict]) -> dict:
    out = tmp / "presidio-out.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    peak = run_child([str(PRESIDIO_PYTHON), str(PRESIDIO_RUNNER), str(notes_path), str(out)], env)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta = rows.pop()["meta"]
    seconds = meta["seconds"]
    return {"notes": len(notes), "chars": meta["chars"], "seconds": seconds,
            "notes_per_s": len(notes) / seconds if seconds else None,
            "chars_per_s": meta["chars"] / seconds if seconds else None,
            "spans": sum(len(row["spans"]) for row in rows), "peak_rss_mb": peak,
            "presidio_version": meta.get("presidio_version")}


# ---------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(results: dict[str, dict], notes: list[dict]) -> None:
    chars = sum(len(n["text"]) for n in notes)
    print(f"== mtsamples/dev: {len(notes)} notes, {chars:,} chars (mean {chars / max(len(notes), 1):,.0f})")
    print(f"{'system':<16}{'notes/s':>10}{'chars/s':>13}{'seconds':>10}{'load s':>9}{'peak MB':>10}  found")
    for system, r in results.items():
        found = (f"{r['mentions']} mentions, {r['negated']} negated" if "mentions" in r
                 else f"{r['entities']} entities ({r['target_rules']} rules), {r['negated']} negated"
                 if "entities" in r else f"{r.get('spans', 0)} PHI spans")
        print(f"{system:<16}{_fmt(r['notes_per_s']):>10}{_fmt(r['chars_per_s'], 0):>13}{_fmt(r['seconds'], 2):>10}"
              f"{_fmt(r.get('load_seconds'), 2):>9}{_fmt(r['peak_rss_mb'], 0):>10}  {found}")
    split = results.get("medspacy", {}).get("component_seconds")
    if split:
        total = sum(split.values()) or 1.0
        print("medspacy time by component: " + ", ".join(f"{name} {100 * sec / total:.0f}%" for name, sec in
                                                          split.items()))
    theirs = results.get("medspacy", {}).get("notes_per_s")
    for ours in ("carelm", "carelm-no-deid"):
        if theirs and results.get(ours, {}).get("notes_per_s"):
            print(f"speed {ours}/medspacy: {results[ours]['notes_per_s'] / theirs:.2f}x (notes/s, same notes)")
    presidio = results.get("presidio", {}).get("notes_per_s")
    if presidio and results.get("carelm", {}).get("notes_per_s"):
        print(f"speed carelm/presidio: {results['carelm']['notes_per_s'] / presidio:.2f}x (notes/s, same notes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("CARELM_SHARED_DATA") or REPO.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=Path(default), help="shared data folder")
    parser.add_argument("--limit", type=int, default=300, help="first N notes (default 300)")
    parser.add_argument("--terms", type=int, default=300, help="medspaCy target rules (default 300)")
    parser.add_argument("--batch", type=int, default=64, help="carelm batch size (default 64)")
    parser.add_argument("--systems", default="carelm,carelm-no-deid,medspacy,presidio", help="comma-separated")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--worker", nargs=3, metavar=("SYSTEM", "IN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        carelm_worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]), args.batch)
        return 0
    systems = args.systems.split(",")
    notes = load_notes(args.data, args.limit)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="carelm-bench-") as folder:
        tmp = Path(folder)
        notes_path = tmp / "notes.jsonl"
        notes_path.write_text("".join(json.dumps(note) + "\n" for note in notes), encoding="utf-8")
        terms: list[list] = []
        for system in ("carelm", "carelm-no-deid"):
            if system in systems or (system == "carelm" and "medspacy" in systems):
                results[system] = run_carelm(system, notes_path, tmp, args.batch)
                terms = terms or results[system].pop("terms")
                results[system].pop("terms", None)
        if "carelm" not in systems:
            results.pop("carelm", None)
        if "medspacy" in systems:
            if MEDSPACY_PYTHON.exists():
                results["medspacy"] = run_medspacy(notes, target_terms(terms, args.terms), tmp)
            else:
                print("warning: skipping medspaCy: run bash bench/setup-assertion-baselines.sh", file=sys.stderr)
        if "presidio" in systems:
            if PRESIDIO_PYTHON.exists():
                results["presidio"] = run_presidio(notes_path, tmp, notes)
            else:
                print("warning: skipping Presidio: run bash bench/setup-baselines.sh", file=sys.stderr)
    print_table(results, notes)
    if args.json:
        args.json.write_text(json.dumps({"limit": args.limit, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
