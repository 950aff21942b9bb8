"""Readers for note objects, JSONL, CSV and text files, and input folder discovery."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

import pytest

from carelm.core.errors import InputError
from carelm.ingest.base import IngestIssue, ParsedRecord
from carelm.ingest.discover import iter_input_files, reader_for
from carelm.ingest.fhir import FhirBundleReader
from carelm.ingest.jsonl import JsonlReader
from carelm.ingest.notes import parse_note_object
from carelm.ingest.tabular import CsvMapping, CsvReader
from carelm.ingest.text import TextReader

SECRET = "Patient reports cough. No fever."


def _only(results: list) -> ParsedRecord | IngestIssue:
    assert len(results) == 1, results
    return results[0]


GOOD_NOTES = [
    ({"text": SECRET}, "unlinked", None, "note"),
    ({"text": SECRET, "id": 7}, "7", "7", "note"),
    ({"text": SECRET, "id": "n1", "patient": "p1", "kind": "Discharge Summary"}, "p1", "n1", "discharge_summary"),
    ({"text": SECRET, "patient": {"id": 42, "name": "Test Patient", "birth_date": "1970-05-01"}}, "42", None, "note"),
    ({"text": SECRET, "record": "r1", "title": "Visit", "date": "2024-02-03T10:30:00+00:00"}, "unlinked", None, "note"),
]


@pytest.mark.parametrize(("obj", "patient_id", "note_id", "kind"), GOOD_NOTES)
def test_good_note_objects(obj, patient_id, note_id, kind):
    result = parse_note_object(obj, "in.jsonl:1")
    assert isinstance(result, ParsedRecord)
    note = result.record.notes[0]
    assert (result.record.patient.external_id, note.external_id, note.kind) == (patient_id, note_id, kind)
    assert note.text == SECRET and result.record.source == "in.jsonl:1"


def test_note_object_fields_are_converted():
    obj = {
        "text": SECRET,
        "record": "enc-1",
        "date": "2024-02-03",
        "patient": {"id": "p9", "name": "Test Patient", "birth_date": "1970-05-01", "sex": "female"},
        "annotations": {"gold": [{"start": 16, "end": 21, "label": "SYMPTOM", "attributes": {"negated": False}}]},
    }
    record = parse_note_object(obj, "x:1").record
    assert record.external_id == "enc-1"
    assert record.patient.birth_date == date(1970, 5, 1) and record.patient.name == "Test Patient"
    assert record.notes[0].authored_at == datetime(2024, 2, 3)
    span = record.notes[0].layers["gold"][0]
    assert (span.text_of(SECRET), span.label, span.stage, span.attributes) == (
        "cough",
        "SYMPTOM",
        "ingest",
        {"negated": False},
    )


BAD_NOTES = [
    ({}, "field 'text': required field missing"),
    ({"text": "   "}, "field 'text': must not be empty"),
    ({"text": 5}, "field 'text': expected a string"),
    ({"text": SECRET, "colour": "x"}, "field 'colour': unknown field; accepted fields: text, id"),
    ({"text": SECRET, "patient": {"name": "Test Patient"}}, "field 'patient.id': required field missing"),
    (
        {"text": SECRET, "patient": {"id": "p", "birth_date": "01/02/1970"}},
        "field 'patient.birth_date': expected a date",
    ),
    ({"text": SECRET, "patient": {"id": "p", "nick": "T"}}, "field 'patient.nick': unknown field"),
    ({"text": SECRET, "patient": True}, "field 'patient': expected a string or integer id"),
    ({"text": SECRET, "date": "yesterday"}, "field 'date': expected an ISO date"),
    ({"text": SECRET, "id": [1]}, "field 'id': expected a string or integer id"),
    ({"text": SECRET, "annotations": []}, "field 'annotations': expected an object of layers"),
    (
        {"text": SECRET, "annotations": {"g": [{"start": 0, "end": 99, "label": "X"}]}},
        "field 'annotations.g[0]': offsets",
    ),
    (
        {"text": SECRET, "annotations": {"g": [{"start": 5, "end": 2, "label": "X"}]}},
        "field 'annotations.g[0]': offsets",
    ),
    ({"text": SECRET, "annotations": {"g": [{"start": "0", "end": 2, "label": "X"}]}}, "'annotations.g[0].start'"),
    ({"text": SECRET, "annotations": {"g": [{"start": 0, "end": 2}]}}, "field 'annotations.g[0].label'"),
    ([SECRET], "expected a JSON object, got an array"),
]


@pytest.mark.parametrize(("obj", "expected"), BAD_NOTES)
def test_bad_note_objects_name_the_field_not_the_value(obj, expected):
    issue = parse_note_object(obj, "in.jsonl:7")
    assert isinstance(issue, IngestIssue)
    assert issue.location == "in.jsonl:7" and expected in issue.message
    assert "cough" not in str(issue) and "Test Patient" not in str(issue) and "01/02" not in str(issue)


JSONL_LINES = [
    (json.dumps({"text": SECRET, "id": "a"}), None),
    ('{"text": "Patient reports cough.", ', "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('"just a string"', "expected a JSON object"),
    (json.dumps({"text": SECRET, "patient": {"id": "p", "birth_date": "1970-13-40"}}), "patient.birth_date"),
]


@pytest.mark.parametrize(("line", "problem"), JSONL_LINES)
def test_jsonl_lines(tmp_path, line, problem):
    path = tmp_path / "notes.jsonl"
    path.write_text(f"\n{line}\n\n", encoding="utf-8")
    result = _only(list(JsonlReader().read(path)))
    assert result.location == f"{path}:2"
    if problem is None:
        assert isinstance(result, ParsedRecord) and result.record.notes[0].text == SECRET
    else:
        assert isinstance(result, IngestIssue) and problem in result.message and "cough" not in result.message


def test_jsonl_bad_lines_do_not_stop_the_file(tmp_path):
    path = tmp_path / "notes.ndjson"
    lines = [
        b"\xef\xbb\xbf" + json.dumps({"text": "one"}).encode(),
        b"{bad",
        b"\xff\xfe",
        json.dumps({"text": "two"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = list(JsonlReader().read(path))
    assert [type(r).__name__ for r in results] == ["ParsedRecord", "IngestIssue", "IngestIssue", "ParsedRecord"]
    assert [r.location.rsplit(":", 1)[1] for r in results] == ["1", "2", "3", "4"]
    assert "UTF-8" in results[2].message


CSV_ROWS = [
    (["p1", "n1", SECRET, "2024-01-01"], None),
    (["p1", "n2", "", "2024-01-01"], "field 'text': required field missing"),
    (["p1", "n3", SECRET, "first of may"], "field 'date': expected an ISO date"),
    (["p1", "n4", SECRET, "2024-01-01", "extra"], "row has 5 fields"),
]


@pytest.mark.parametrize(("row", "problem"), CSV_ROWS)
def test_csv_rows(tmp_path, row, problem):
    path = tmp_path / "notes.csv"
    cells = ",".join(f'"{cell}"' for cell in row)
    path.write_text(f"patient,id,text,date\n{cells}\n", encoding="utf-8")
    result = _only(list(CsvReader(CsvMapping()).read(path)))
    assert result.location == f"{path}:2"
    if problem is None:
        assert isinstance(result, ParsedRecord)
        assert result.record.patient.external_id == "p1" and result.record.notes[0].external_id == "n1"
    else:
        assert isinstance(result, IngestIssue) and problem in result.message and "cough" not in result.message


def test_csv_mapping_bom_multiline_rows_and_large_fields(tmp_path):
    path = tmp_path / "export.csv"
    big = "word " * 40_000
    content = f'\ufeffbody,mrn,visit_date\n"{SECRET}\nSecond line.",p1,2024-01-01\n"{big}",p2,\n,p3,2024-01-02\n'
    path.write_text(content, encoding="utf-8")
    mapping = CsvMapping(text="body", patient="mrn", date="visit_date")
    results = list(CsvReader(mapping).read(path))
    assert [r.location.rsplit(":", 1)[1] for r in results] == ["2", "4", "5"]
    assert results[0].record.notes[0].text == f"{SECRET}\nSecond line."
    assert len(results[1].record.notes[0].text) == len(big)
    assert isinstance(results[2], IngestIssue) and "column 'body' (field 'text')" in results[2].message


@pytest.mark.parametrize(
    ("mapping", "missing"),
    [(CsvMapping(), "text"), (CsvMapping(text="body", record="encounter"), "encounter")],
)
def test_csv_missing_required_column_raises(tmp_path, mapping, missing):
    path = tmp_path / "notes.csv"
    path.write_text("note,body\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        list(CsvReader(mapping).read(path))
    assert missing in info.value.message and "available columns: note, body" in info.value.message
    assert info.value.location == str(path)


def test_csv_mapping_tracks_user_set_columns():
    mapping = CsvMapping(text="body", id="id")
    assert mapping.explicit == {"text", "id"} and mapping.patient == "patient"
    assert mapping.required() == {"text", "id"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (SECRET.encode(), None),
        (b"", "file is empty"),
        (b"  \n\t", "file is empty"),
        (b"caf\xe9 note", "not valid UTF-8"),
    ],
)
def test_text_files(tmp_path, content, problem):
    path = tmp_path / "ward" / "note1.txt"
    path.parent.mkdir()
    path.write_bytes(content)
    result = _only(list(TextReader(kind="Progress Note", root=tmp_path).read(path)))
    if problem is None:
        record = result.record
        assert record.external_id == "ward/note1.txt" and record.notes[0].external_id == "ward/note1.txt"
        assert record.patient.external_id == "ward/note1.txt" and record.notes[0].kind == "progress_note"
    else:
        assert isinstance(result, IngestIssue) and problem in result.message and result.location == str(path)


def test_text_reader_patient_option(tmp_path):
    path = tmp_path / "a.md"
    path.write_text(SECRET, encoding="utf-8")
    record = _only(list(TextReader(patient="p7").read(path))).record
    assert record.patient.external_id == "p7" and record.external_id == "a.md"


def test_folder_discovery_is_sorted_and_safe(tmp_path):
    root = tmp_path / "in"
    outside = tmp_path / "outside"
    (root / "b").mkdir(parents=True)
    (root / ".hidden").mkdir()
    outside.mkdir()
    for name in ("b/z.txt", "a.jsonl", "c.csv", "d.json", "e.md", "f.pdf", ".secret.txt", ".hidden/x.txt"):
        (root / name).write_text("x", encoding="utf-8")
    (outside / "leak.txt").write_text("x", encoding="utf-8")
    os.symlink(outside / "leak.txt", root / "leak.txt")
    os.symlink(outside, root / "linked_dir")
    os.symlink(root / "e.md", root / "g.txt")
    found = [p.relative_to(root).as_posix() for p in iter_input_files(root)]
    # links leading outside are yielded so that reader_for reports them (tests/test_hardening_ingest.py)
    assert found == ["a.jsonl", "b/z.txt", "c.csv", "d.json", "e.md", "g.txt", "leak.txt", "linked_dir"]


def test_single_file_is_yielded_and_missing_path_raises(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("x", encoding="utf-8")
    assert list(iter_input_files(path)) == [path]
    with pytest.raises(InputError):
        list(iter_input_files(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("a.jsonl", None, JsonlReader),
        ("a.NDJSON", None, JsonlReader),
        ("a.csv", None, CsvReader),
        ("a.json", None, FhirBundleReader),
        ("a.txt", None, TextReader),
        ("a.md", None, TextReader),
        ("a.dat", "jsonl", JsonlReader),
        ("a.json", "text", TextReader),
    ],
)
def test_reader_for(name, fmt, expected):
    reader = reader_for(Path(name), format=fmt)
    assert isinstance(reader, expected) and reader.format in {"text", "jsonl", "csv", "fhir"}


@pytest.mark.parametrize(("name", "fmt", "expected"), [("a.pdf", None, "accepted"), ("a.txt", "xml", "accepted")])
def test_reader_for_rejects_unknown_formats(name, fmt, expected):
    with pytest.raises(InputError) as info:
        reader_for(Path(name), format=fmt)
    assert expected in info.value.message and "text, jsonl, csv, fhir" in info.value.message
