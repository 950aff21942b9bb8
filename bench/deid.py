"""De-identification benchmark: carelm's PhiEngine beside Microsoft Presidio, on the same notes in the same run.

Usage (product venv; Presidio runs in its own venv, made by ``bash bench/setup-baselines.sh``):

    .venv/bin/python bench/deid.py [--data DIR] [--limit N] [--no-baseline] [--errors N] [--json OUT]
    .venv/bin/python bench/deid.py --self-check

Data (``--data``, else ``$CARELM_SHARED_DATA``, else ``../shared/data`` beside the repository):

- ``deid_physionet/dev.jsonl``: PhysioNet deid nursing notes with surrogate PHI; ``end`` is exclusive
  (checked on every span: ``text[start:end] == phi["text"]``).  Every gold type is PHI and scored.
- ``presidio_synth_pii/synth_dataset_v2.json``: Presidio's synthetic, non-clinical PII sentences.  Its types
  are mapped to carelm's Safe Harbor types in ``SYNTH_TYPES``; those mapped to None are not PHI under Safe
  Harbor and are not scored: their tokens are not in recall and a prediction that lands only on them is
  neutral (neither right nor wrong).

Measured per data set and system (definitions in bench/deid_metrics.py): token recall (``\\w+`` tokens of gold
PHI covered whole by predictions), per gold type recall, span precision (a prediction is right when it
overlaps a gold PHI span), their F1, span recall, and throughput (notes/s, chars/s) over the same notes,
after one untimed warm-up note.  Presidio uses all its default recognizers and default NLP configuration,
on the small spaCy English model, via ``analyzer.analyze(text, language="en")``.  Nothing with note text is
written into the repository: Presidio's input and output go to a temporary folder, errors (``--errors``)
only to the terminal, and ``--json`` holds figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from carelm.deid.base import DeidDoc, PhiSpan, Recognizer
from deid_metrics import Gold, Pred, Tally, f1, merge_overlaps, score_note, summary

REPO = Path(__file__).resolve().parents[1]
BASELINE_PYTHON = REPO / "bench" / ".venv-baselines" / "bin" / "python"
PRESIDIO_RUNNER = REPO / "bench" / "_presidio_runner.py"
SYSTEMS = ("carelm", "presidio")

# PhysioNet deid gold types -> carelm types; all are scored.
PHYSIONET_TYPES = {
    "Date": "DATE", "DateYear": "DATE", "Phone": "PHONE", "Location": "LOCATION",
    "HCPName": "NAME", "PTName": "NAME", "RelativeProxyName": "NAME", "PTNameInitial": "NAME",
}

# presidio_synth_pii types -> carelm types; None = not Safe Harbor PHI, not scored (neutral).
SYNTH_TYPES = {
    "PERSON": "NAME",
    "STREET_ADDRESS": "ADDRESS",
    "GPE": "LOCATION",  # cities, but also countries and states, which Safe Harbor lets stay
    "ZIP_CODE": "ZIP",
    "DATE_TIME": "DATE",  # also bare years and weekdays, which Safe Harbor lets stay
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "DOMAIN_NAME": "URL",  # the values are full URLs
    "IP_ADDRESS": "IP",
    "US_SSN": "SSN",
    "CREDIT_CARD": "ACCOUNT",  # account numbers (Safe Harbor identifier 10)
    "IBAN_CODE": "ACCOUNT",
    "US_DRIVER_LICENSE": "LICENSE",
    "ORGANIZATION": None,  # employers and companies: not a Safe Harbor identifier
    "TITLE": None,  # Dr., Mrs., job titles
    "NRP": None,  # nationality, religion, politics
    "AGE": None,  # the ages are nearly all under 90; only ages over 89 are Safe Harbor PHI
}


@dataclass(slots=True)
class Item:
    """One note: id, text and gold spans."""

    id: str
    text: str
    gold: list[Gold]


@dataclass(slots=True)
class Dataset:
    name: str
    items: list[Item]
    kind: str  # DeidDoc kind passed to carelm
    mapping: dict[str, str | None]
    offset_mismatches: int = 0


@dataclass(slots=True)
class SystemRun:
    """One system's predictions on a data set and the seconds it took over all of them."""

    preds: list[list[Pred]]
    seconds: float
    meta: dict


# ---------------------------------------------------------------- data


def parse_physionet(record: dict) -> tuple[Item, int]:
    """An item from one dev.jsonl record, and how many spans have text[start:end] != phi text."""
    text = record["text"]
    gold, bad = [], 0
    for phi in record["phi"]:
        bad += text[phi["start"]:phi["end"]] != phi["text"]
        gold.append(Gold(phi["start"], phi["end"], phi["type"], PHYSIONET_TYPES.get(phi["type"]) is not None))
    return Item(f"{record['patient']}-{record['note']}", text, gold), bad


def load_physionet(data: Path, limit: int | None) -> Dataset:
    path = data / "deid_physionet" / "dev.jsonl"
    dataset = Dataset("deid_physionet", [], "note", PHYSIONET_TYPES)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(dataset.items) >= limit:
                break
            if line.strip():
                item, bad = parse_physionet(json.loads(line))
                dataset.items.append(item)
                dataset.offset_mismatches += bad
    return dataset


def parse_synth(index: int, record: dict) -> tuple[Item, int]:
    text = record["full_text"]
    gold, bad = [], 0
    for span in record["spans"]:
        start, end = span["start_position"], span["end_position"]
        bad += text[start:end] != span["entity_value"]
        gold.append(Gold(start, end, span["entity_type"], SYNTH_TYPES.get(span["entity_type"]) is not None))
    return Item(f"synth-{index}", text, gold), bad


def load_synth(data: Path, limit: int | None) -> Dataset:
    records = json.loads((data / "presidio_synth_pii" / "synth_dataset_v2.json").read_text(encoding="utf-8"))
    dataset = Dataset("presidio_synth_pii", [], "note", SYNTH_TYPES)
    for index, record in enumerate(records[:limit]):
        item, bad = parse_synth(index, record)
        dataset.items.append(item)
        dataset.offset_mismatches += bad
    unknown = {g.type for i in dataset.items for g in i.gold} - set(SYNTH_TYPES)
    if unknown:
        print(f"warning: presidio_synth_pii types not in SYNTH_TYPES, not scored: {sorted(unknown)}")
    return dataset


# ---------------------------------------------------------------- systems


class SmokeRecognizer(Recognizer):
    """A trivial recognizer (numeric dates, phones, capitalised word pairs) to smoke-test the bench."""

    name = "bench.smoke"
    types = ("DATE", "PHONE", "NAME")
    PATTERNS = (("DATE", r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"), ("PHONE", r"\b(?:\(?\d{3}\)?[ -]?)?\d{3}-\d{4}\b"),
                ("NAME", r"\b[A-Z][a-z]+ [A-Z][a-z]+\b"))

    def load(self) -> None:
        self.compiled = [(kind, re.compile(p)) for kind, p in self.PATTERNS]

    def find(self, doc: DeidDoc) -> list[PhiSpan]:
        return [PhiSpan(m.start(), m.end(), kind, 0.5, self.name) for kind, rx in self.compiled
                for m in rx.finditer(doc.text)]


def carelm_engine(smoke: bool):
    """The default PhiEngine; while recognizer modules are still missing, one built from those that import."""
    import importlib

    from carelm.deid.engine import DEFAULT_RECOGNIZER_MODULES, PhiEngine

    if smoke:
        return PhiEngine(recognizers=[SmokeRecognizer()])
    try:
        return PhiEngine()
    except (ImportError, AttributeError) as exc:
        print(f"warning: default PhiEngine unavailable ({exc}); using the recognizer modules that import")
    found: list[Recognizer] = []
    for module in DEFAULT_RECOGNIZER_MODULES:
        try:
            found.extend(importlib.import_module(module).recognizers())
        except (ImportError, AttributeError) as exc:
            print(f"warning: skipping {module}: {exc}")
    return PhiEngine(recognizers=found)


def run_carelm(engine, dataset: Dataset) -> SystemRun:
    engine.load()
    if dataset.items:
        engine.find(DeidDoc(dataset.items[0].text, kind=dataset.kind))  # warm-up, not timed
    preds: list[list[Pred]] = []
    start = time.perf_counter()
    for item in dataset.items:
        spans = engine.find(DeidDoc(item.text, kind=dataset.kind))
        preds.append([Pred(s.start, s.end, s.type, s.score) for s in spans])
    seconds = time.perf_counter() - start
    return SystemRun(preds, seconds, {"recognizers": [type(r).__name__ for r in engine.recognizers]})


def run_presidio(dataset: Dataset, python: Path, threshold: float | None) -> SystemRun:
    """Presidio in the baseline venv, as a subprocess; note text only ever lies in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="carelm-bench-") as tmp:
        inp, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        inp.write_text("".join(json.dumps({"id": i.id, "text": i.text}) + "\n" for i in dataset.items), "utf-8")
        cmd = [str(python), str(PRESIDIO_RUNNER), str(inp), str(out)]
        if threshold is not None:
            cmd += ["--threshold", str(threshold)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"presidio runner failed ({done.returncode}):\n{done.stderr[-4000:]}")
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta = rows.pop()["meta"]
    by_id = {row["id"]: [Pred(s, e, t, sc) for s, e, t, sc in row["spans"]] for row in rows}
    return SystemRun([by_id[i.id] for i in dataset.items], meta["seconds"], meta)


# ---------------------------------------------------------------- scoring and report


def evaluate(dataset: Dataset, run: SystemRun) -> dict:
    tally = Tally()
    for item, preds in zip(dataset.items, run.preds, strict=True):
        tally.add(score_note(item.text, item.gold, preds))
    chars = sum(len(i.text) for i in dataset.items)
    figures = summary(tally)
    figures.update(seconds=run.seconds, notes_per_s=_per_s(len(dataset.items), run.seconds),
                   chars_per_s=_per_s(chars, run.seconds), meta=run.meta)
    return figures


def _per_s(count: int, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(name: str, dataset: Dataset, results: dict[str, dict]) -> None:
    chars = sum(len(i.text) for i in dataset.items)
    print(f"\n== {name}: {len(dataset.items)} notes, {chars:,} chars, "
          f"{sum(len(i.gold) for i in dataset.items)} gold spans")
    if dataset.offset_mismatches:
        print(f"   warning: {dataset.offset_mismatches} gold spans where text[start:end] != the span's text")
    head = f"{'system':<10}{'tok.recall':>11}{'span.prec':>11}{'F1':>8}{'span.rec':>10}{'notes/s':>12}{'chars/s':>14}"
    print(head)
    for system, r in results.items():
        print(f"{system:<10}{fmt(r['token_recall']):>11}{fmt(r['span_precision']):>11}{fmt(r['f1']):>8}"
              f"{fmt(r['span_recall']):>10}{fmt(r['notes_per_s'], 1):>12}{fmt(r['chars_per_s'], 0):>14}")
    print_type_rows(dataset, results)
    for system, r in results.items():
        rows = ", ".join(f"{k} {v['correct']}/{v['correct'] + v['wrong']}" + (f" (+{v['neutral']} neutral)"
                                                                            if v["neutral"] else "")
                         for k, v in r["precision_by_type"].items())
        print(f"  {system} right/predicted by type: {rows or 'nothing predicted'}")
    if not results["carelm"]["meta"]["recognizers"]:
        print("  warning: carelm ran with no recognizer (its figures and speed mean nothing yet)")
    if {"carelm", "presidio"} <= set(results):
        ours, theirs = results["carelm"]["notes_per_s"], results["presidio"]["notes_per_s"]
        if ours and theirs:
            print(f"  speed carelm/presidio: {ours / theirs:.1f}x (notes/s, same notes, warm-up excluded)")


def print_type_rows(dataset: Dataset, results: dict[str, dict]) -> None:
    kinds = sorted({k for r in results.values() for k in r["recall_by_type"]})
    print(f"  {'token recall by gold type':<36}{'tokens':>7}" + "".join(f"{s:>10}" for s in results))
    for kind in kinds:
        label = f"{kind} -> {dataset.mapping.get(kind)}"
        tokens = next(r["recall_by_type"][kind]["tokens"] for r in results.values() if kind in r["recall_by_type"])
        cells = "".join(f"{fmt(r['recall_by_type'].get(kind, {}).get('recall')):>10}" for r in results.values())
        print(f"  {label:<36}{tokens:>7}{cells}")
    unscored = sorted({g.type for i in dataset.items for g in i.gold if not g.scored})
    if unscored:
        print(f"  not scored (neutral): {', '.join(unscored)}")


def context(text: str, start: int, end: int, width: int = 40) -> str:
    def flat(s: str) -> str:
        return s.replace("\n", " / ")

    return f"...{flat(text[max(0, start - width):start])}[[{flat(text[start:end])}]]{flat(text[end:end + width])}..."


def print_errors(dataset: Dataset, system: str, run: SystemRun, limit: int) -> None:
    """Up to ``limit`` missed gold spans and false positives, to the terminal only."""
    missed, wrong = [], []
    for item, preds in zip(dataset.items, run.preds, strict=True):
        merged = merge_overlaps(preds)
        for gold in item.gold:
            if gold.scored and score_note(item.text, [gold], merged).spans_caught == 0:
                missed.append(f"  {gold.type:<18}{context(item.text, gold.start, gold.end)}")
        for pred in merged:
            if not any(g.start < pred.end and pred.start < g.end for g in item.gold):
                wrong.append(f"  {pred.type:<18}{context(item.text, pred.start, pred.end)}")
    print(f"\n-- {dataset.name} / {system}: {len(missed)} gold spans missed in part or whole, first {limit}:")
    print("\n".join(missed[:limit]) or "  none")
    print(f"-- {dataset.name} / {system}: {len(wrong)} false positives, first {limit}:")
    print("\n".join(wrong[:limit]) or "  none")


# ---------------------------------------------------------------- self-check


def self_check() -> None:
    """The metric definitions on tiny invented notes."""
    text = "Seen by Dr Alma Ruiz on 3/4 at Oakdale, call 555-0100."
    alma, date = text.index("Alma Ruiz"), text.index("3/4")
    gold = [Gold(alma, alma + 9, "NAME"), Gold(date, date + 3, "DATE"), Gold(text.index("Dr"), alma - 1, "T", False)]
    # Whole name + date caught; a wrong span on "Oakdale"; a neutral one on "Dr".
    preds = [Pred(alma, alma + 9, "NAME"), Pred(date, date + 3, "DATE"), Pred(text.index("Oakdale"),
             text.index("Oakdale") + 7, "CITY"), Pred(text.index("Dr"), text.index("Dr") + 2, "NAME")]
    s = summary(score_note(text, gold, preds))
    assert s["gold_tokens"] == 4 and s["token_recall"] == 1.0, s  # Alma, Ruiz, 3, 4 ("/" is no token)
    assert (s["predicted_correct"], s["predicted_wrong"], s["predicted_neutral"]) == (2, 1, 1), s
    assert abs(s["span_precision"] - 2 / 3) < 1e-9 and abs(s["f1"] - 0.8) < 1e-9, s
    # A token only partly covered is missed; two adjacent predictions together cover a token.
    part = summary(score_note(text, gold[:1], [Pred(alma, alma + 2, "NAME"), Pred(alma + 5, alma + 7, "NAME"),
                                               Pred(alma + 7, alma + 9, "NAME")]))
    assert part["recall_by_type"]["NAME"] == {"recall": 0.5, "tokens": 2} and part["span_recall"] == 0.0, part
    # Stacked alternatives count once; nothing predicted gives no precision and no F1.
    assert len(merge_overlaps([Pred(0, 5, "A", 0.4), Pred(2, 9, "B", 0.9), Pred(9, 12, "C")])) == 2
    assert merge_overlaps([Pred(0, 5, "A", 0.4), Pred(2, 9, "B", 0.9)]) == [Pred(0, 9, "B", 0.9)]
    empty = summary(score_note(text, gold, []))
    assert empty["token_recall"] == 0.0 and empty["span_precision"] is None and empty["f1"] is None
    assert f1(0.0, 0.0) == 0.0
    # PhysioNet parsing with an exclusive end, and the mismatch count.
    record = {"patient": "1", "note": "2", "text": "Met Ann Lee.", "phi": [
        {"start": 4, "end": 7, "type": "PTName", "text": "Ann"}, {"start": 8, "end": 10, "type": "PTName",
                                                                  "text": "Lee"}]}
    item, bad = parse_physionet(record)
    assert item.id == "1-2" and bad == 1 and item.gold[0] == Gold(4, 7, "PTName", True)
    # The smoke engine runs end to end through PhiEngine.
    smoke = run_carelm(carelm_engine(smoke=True), Dataset("t", [Item("a", text, gold)], "note", {}))
    assert [p.type for p in smoke.preds[0]] == ["NAME", "DATE", "PHONE"], smoke.preds
    print("self-check passed")


# ---------------------------------------------------------------- main


def default_data() -> Path:
    return Path(os.environ.get("CARELM_SHARED_DATA") or REPO.parent / "shared" / "data")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="shared data folder (default: $CARELM_SHARED_DATA, else ../shared/data)")
    parser.add_argument("--limit", type=int, default=None, help="first N notes of each data set")
    parser.add_argument("--datasets", default="deid_physionet,presidio_synth_pii", help="comma-separated")
    parser.add_argument("--no-baseline", action="store_true", help="carelm only")
    parser.add_argument("--require-baseline", action="store_true", help="fail when the baseline venv is missing")
    parser.add_argument("--baseline-python", type=Path, default=BASELINE_PYTHON)
    parser.add_argument("--presidio-threshold", type=float, default=None, help="score_threshold for Presidio")
    parser.add_argument("--smoke", action="store_true", help="carelm with a trivial in-script recognizer")
    parser.add_argument("--errors", type=int, default=0, metavar="N", help="print N misses and N false positives")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the figures (no text)")
    parser.add_argument("--self-check", action="store_true", help="check the metrics on invented examples")
    return parser.parse_args(argv)


def want_baseline(args: argparse.Namespace) -> bool:
    if args.no_baseline:
        return False
    if args.baseline_python.exists():
        return True
    message = f"baseline venv missing ({args.baseline_python}); create it with: bash bench/setup-baselines.sh"
    if args.require_baseline:
        sys.exit(message)
    print(f"warning: {message}; running carelm only")
    return False


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.self_check:
        self_check()
        return
    data = args.data or default_data()
    loaders = {"deid_physionet": load_physionet, "presidio_synth_pii": load_synth}
    baseline = want_baseline(args)
    engine = carelm_engine(args.smoke)
    report: dict = {"limit": args.limit, "presidio_threshold": args.presidio_threshold, "datasets": {}}
    for name in args.datasets.split(","):
        dataset = loaders[name](data, args.limit)
        runs = {"carelm": run_carelm(engine, dataset)}
        if baseline:
            runs["presidio"] = run_presidio(dataset, args.baseline_python, args.presidio_threshold)
        results = {system: evaluate(dataset, run) for system, run in runs.items()}
        print_table(name, dataset, results)
        for system, run in runs.items():
            if args.errors:
                print_errors(dataset, system, run, args.errors)
        report["datasets"][name] = {"notes": len(dataset.items), "chars": sum(len(i.text) for i in dataset.items),
                                    "offset_mismatches": dataset.offset_mismatches, "systems": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
