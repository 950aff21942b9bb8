"""Deterministic synthetic clinical records with gold PHI, mention and section annotations."""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from faker import Faker

from .cases import Case, Encounter, make_staff, plan_case
from .identity import IdentityFactory
from .notes import WRITERS
from .writer import Writer

NOTE_KINDS = tuple(WRITERS)


def generate_records(n_patients: int = 50, notes_per_patient: int = 4, seed: int = 7) -> list[dict[str, Any]]:
    """Generate ``n_patients * notes_per_patient`` synthetic notes, identical for identical arguments.

    Each note is a JSON-ready dict with ``id``, ``patient`` (id, name, birth_date, sex), ``record`` (encounter id),
    ``kind``, ``title``, ``date``, ``text`` and ``annotations`` holding the ``gold.phi``, ``gold.mentions`` and
    ``gold.sections`` layers. Every annotation is ``{"start", "end", "label", "attributes"}`` with end-exclusive
    character offsets into ``text``.
    """
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    ids = IdentityFactory(rng, fake)
    staff = make_staff(ids)
    records: list[dict[str, Any]] = []
    for index in range(1, n_patients + 1):
        case = plan_case(index, notes_per_patient, ids, staff)
        notes = [(enc, kind, day) for enc in case.encounters for kind, day in enc.notes]
        for number, (enc, kind, day) in enumerate(notes, 1):
            records.append(_note(ids, case, enc, kind, day, f"N{index:04d}-{number}"))
    return records


def _note(ids: IdentityFactory, case: Case, enc: Encounter, kind: str, day: date, note_id: str) -> dict[str, Any]:
    writer = Writer(ids.rng, ids, case, enc, day)
    title = WRITERS[kind](writer)
    text, layers = writer.b.build()
    patient = case.patient
    return {
        "id": note_id,
        "patient": {
            "id": patient.pid,
            "name": patient.person.full,
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.person.sex,
        },
        "record": enc.eid,
        "kind": kind,
        "title": title,
        "date": day.isoformat(),
        "text": text,
        "annotations": layers,
    }


def dumps(record: dict[str, Any]) -> str:
    """Serialise one record as a single compact JSON line."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write records to ``path`` as JSON Lines (UTF-8, one record per line); return the number written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with target.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(dumps(record) + "\n")
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m carelm.synth --patients 50 --notes-per-patient 4 --seed 7 --out FILE``."""
    parser = argparse.ArgumentParser(prog="python -m carelm.synth", description=__doc__)
    parser.add_argument("--patients", type=int, default=50, help="number of patients (default 50)")
    parser.add_argument("--notes-per-patient", type=int, default=4, help="notes per patient (default 4)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", help="output JSONL file (default: standard output)")
    args = parser.parse_args(argv)
    if args.patients < 0 or args.notes_per_patient < 1:
        parser.error("--patients must be >= 0 and --notes-per-patient >= 1")
    records = generate_records(args.patients, args.notes_per_patient, args.seed)
    if args.out:
        count = write_jsonl(records, args.out)
        print(f"wrote {count} notes for {args.patients} patients to {args.out}", file=sys.stderr)
    else:
        for record in records:
            sys.stdout.write(dumps(record) + "\n")
    return 0
