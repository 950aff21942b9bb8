"""De-identification end to end: the stage in the stored pipeline, surrogates, re-identification, CLI, API."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from carelm.cli.main import app
from carelm.core.errors import InputError
from carelm.core.pipeline import Pipeline
from carelm.core.types import Note
from carelm.service.context import Context
from carelm.service.deid import DeidItem, deid_pipeline, deidentify_items, reidentify_note
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from carelm.store.models import SurrogateMapRow
from carelm.synth.generator import generate_records
from tests.conftest import TEST_KEY

NOTE_ONE = ("Patient Quentin Albright was admitted on 3/1/2023 by Dr. Imogen Treadwell.\n"
            "Call 617-555-0142 with questions. Quentin Albright agrees with the plan.")
NOTE_TWO = "Follow-up for Mr. Quentin Albright on 3/15/2023. Discharged home in stable condition."


def _tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\w+", text) if m.start() >= start and m.end() <= end]


def test_stage_catches_the_synthetic_gold_phi():
    """Token recall over the generator's gold PHI: every Safe Harbor type it writes."""
    records = generate_records(n_patients=12, notes_per_patient=4, seed=99)
    pipeline = deid_pipeline("redact", b"k" * 32)
    notes = [Note(text=r["text"], id=r["id"], patient_id=r["patient"]["id"]) for r in records]
    result = pipeline.run(notes)
    assert not result.failed
    caught = total = 0
    missed_types: dict[str, int] = {}
    for record, note in zip(records, result.done, strict=True):
        covered = set()
        for span in note.layers["phi"]:
            covered.update(range(span.start, span.end))
        for gold in record["annotations"]["gold.phi"]:
            for start, end in _tokens(record["text"], gold["start"], gold["end"]):
                total += 1
                if all(i in covered for i in range(start, end)):
                    caught += 1
                else:
                    missed_types[gold["label"]] = missed_types.get(gold["label"], 0) + 1
    assert total > 1000
    assert caught / total >= 0.97, missed_types


def test_output_offsets_point_into_the_input_and_names_are_gone():
    [out] = deidentify_items([DeidItem("a", NOTE_ONE, "P-1")], deid_pipeline("redact", b"s" * 32))
    found = {NOTE_ONE[s["start"]:s["end"]]: s["type"] for s in out["spans"]}
    assert found.get("Quentin Albright") == "NAME" and found.get("617-555-0142") == "PHONE"
    assert any(t == "DATE" and "3/1/2023" in k for k, t in found.items())
    assert "Albright" not in out["text"] and "[NAME]" in out["text"]


def test_surrogates_are_consistent_per_patient_and_dates_keep_their_interval():
    pipeline = deid_pipeline("surrogate", b"x" * 32)
    one, two, other = pipeline.run([Note(text=NOTE_ONE, id="1", patient_id="P-1"),
                                    Note(text=NOTE_TWO, id="2", patient_id="P-1"),
                                    Note(text=NOTE_TWO, id="3", patient_id="P-2")]).done
    name_one = _replacement(one, "Quentin Albright")
    assert name_one != "Quentin Albright" and "Albright" not in one.views["deid"]
    assert name_one == _replacement(two, "Quentin Albright")
    assert _replacement(other, "Quentin Albright") != name_one
    first = datetime.strptime(_replacement(one, "3/1/2023"), "%m/%d/%Y")
    second = datetime.strptime(_replacement(two, "3/15/2023"), "%m/%d/%Y")
    assert (second - first).days == 14 and first != datetime(2023, 3, 1)


def _replacement(note: Note, original: str) -> str:
    """The surrogate that replaced ``original`` in the note, read where the phi layer says it landed."""
    for span in note.layers["phi"]:
        if note.text[span.start:span.end] == original:
            landed = note.views["deid"][span.attributes["new_start"]:span.attributes["new_end"]]
            assert landed == span.attributes["replacement"]
            return landed
    raise AssertionError(f"{original!r} was not replaced")


def test_stored_notes_are_deidentified_and_can_be_reidentified_with_audit(ctx: Context):
    ingest_payload(ctx, {"id": "d1", "patient": {"id": "P-deid", "name": "Quentin Albright"}, "text": NOTE_ONE})
    report = process_notes(ctx, Pipeline.default())
    assert report.notes_done == 1
    record = ctx.store.records.list_records()[0]
    note = ctx.store.records.get_record(record.id).notes[0]
    assert note.deid_text and "Albright" not in note.deid_text
    assert {s.label for s in note.layers["phi"]} >= {"NAME", "DATE", "PHONE"}
    with ctx.store.sessions() as session:
        blob = session.scalar(select(SurrogateMapRow.map_enc))
    assert b"Albright" not in blob
    with pytest.raises(InputError):
        reidentify_note(ctx, note.id, purpose=" ")
    restored = reidentify_note(ctx, note.id, purpose="care team request")
    assert restored["text"] == NOTE_ONE
    last = ctx.store.audit.entries(limit=1)[0]
    assert (last["action"], last["purpose"], last["target_id"]) == ("reidentify", "care team request", note.id)


def test_cli_deid_jsonl_one_line_per_input_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [{"id": "n1", "text": NOTE_ONE, "patient": "P-1"}, {"id": "n2"}, {"id": "n3", "text": NOTE_TWO}]
    src.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["deid", "--in-jsonl", str(src), "--out-jsonl", str(dst), "--mode", "redact"])
    assert result.exit_code == 1, result.output
    outputs = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in outputs] == ["n1", "n2", "n3"]
    assert "error" in outputs[1] and "text" in outputs[1]["error"]
    for line, out in ((lines[0], outputs[0]), (lines[2], outputs[2])):
        assert out["spans"] and all(set(s) == {"start", "end", "type", "score"} for s in out["spans"])
        assert "Albright" not in out["text"]
        assert any(line["text"][s["start"]:s["end"]] == "Quentin Albright" for s in out["spans"])


def test_cli_deid_single_text_formats(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", TEST_KEY)
    note = tmp_path / "note.txt"
    note.write_text(NOTE_ONE, encoding="utf-8")
    text = CliRunner().invoke(app, ["deid", str(note), "--mode", "redact"])
    assert text.exit_code == 0 and "[NAME]" in text.output and "Albright" not in text.output
    as_json = CliRunner().invoke(app, ["deid", "-", "--format", "json", "--mode", "mask"], input=NOTE_ONE)
    body = json.loads(as_json.output)
    assert len(body["text"]) == len(NOTE_ONE) and body["spans"]
    bad = CliRunner().invoke(app, ["deid", str(note), "--mode", "scramble"])
    assert bad.exit_code == 2 and "surrogate" in bad.output and "Albright" not in bad.output


def test_the_patients_own_name_is_found_even_without_context(ctx: Context):
    """The store knows the patient's name from ingest, so a bare mention is still replaced."""
    text = "Albright tolerated breakfast. Plan reviewed with albright at bedside."
    ingest_payload(ctx, {"id": "k1", "patient": {"id": "P-known", "name": "Quentin Albright"}, "text": text})
    process_notes(ctx, Pipeline.default())
    note = ctx.store.records.get_record(ctx.store.records.list_records()[0].id).notes[0]
    assert [(s.start, s.end, s.label) for s in note.layers["phi"]] == [(0, 8, "NAME"), (49, 57, "NAME")]
    assert "lbright" not in note.deid_text
