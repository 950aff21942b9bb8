"""Tests for the deterministic synthetic clinical record generator (carelm.synth)."""

from __future__ import annotations

import collections
import itertools
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest

import carelm
from carelm.synth import generate_records, main, write_jsonl
from carelm.synth.writer import HEADERS

SAMPLE = Path(carelm.__file__).parent / "resources" / "sample" / "records.jsonl"
KINDS = {"discharge_summary", "progress_note", "radiology_report", "nursing_note"}
PHI_TYPES = set(
    "NAME DATE AGE PHONE FAX EMAIL SSN MRN ACCOUNT HEALTH_PLAN LICENSE ID ADDRESS CITY STATE ZIP HOSPITAL "
    "LOCATION URL IP DEVICE VEHICLE".split()
)
MENTION_LABELS = {"PROBLEM", "SYMPTOM", "DRUG", "TEST", "PROCEDURE"}
FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")
SECTION_LABELS = set(
    "chief_complaint hpi pmh psh medications allergies family_history social_history ros physical_exam vitals labs "
    "imaging hospital_course assessment_plan assessment plan discharge_medications discharge_instructions follow_up "
    "indication technique comparison findings impression subjective objective".split()
)
DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%d-%b-%Y")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return generate_records(50, 4, 7)


def _spans(records, layer, label=None):
    for note in records:
        for ann in note["annotations"][layer]:
            if label is None or ann["label"] == label:
                yield note, ann, note["text"][ann["start"] : ann["end"]]


def _parse_date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def test_same_seed_same_output_different_seed_different_output():
    first = generate_records(6, 3, seed=11)
    assert first == generate_records(6, 3, seed=11)
    assert first != generate_records(6, 3, seed=12)


def test_counts_keys_and_kinds(records):
    assert len(records) == 200
    assert len({r["id"] for r in records}) == 200
    by_patient = collections.Counter(r["patient"]["id"] for r in records)
    assert len(by_patient) == 50 and set(by_patient.values()) == {4}
    assert {r["kind"] for r in records} == KINDS
    assert max(collections.Counter(r["record"] for r in records).values()) >= 2
    for r in records:
        assert set(r) == {"id", "patient", "record", "kind", "title", "date", "text", "annotations"}
        assert set(r["patient"]) == {"id", "name", "birth_date", "sex"}
        assert r["patient"]["sex"] in {"female", "male"}
        assert re.fullmatch(r"N\d{4}-\d+", r["id"]) and r["record"].startswith(r["patient"]["id"] + "-E")
        date.fromisoformat(r["date"]), date.fromisoformat(r["patient"]["birth_date"])
        assert set(r["annotations"]) == {"gold.phi", "gold.mentions", "gold.sections"}
        assert r["title"] and r["text"]


def test_offsets_within_text_and_non_empty(records):
    for layer in ("gold.phi", "gold.mentions", "gold.sections"):
        for note, ann, span in _spans(records, layer):
            assert set(ann) == {"start", "end", "label", "attributes"}
            assert 0 <= ann["start"] < ann["end"] <= len(note["text"])
            assert span.strip() == span and span, (note["id"], layer, ann)


def test_phi_spans_do_not_overlap_each_other_or_mentions(records):
    for note in records:
        phi = sorted((a["start"], a["end"]) for a in note["annotations"]["gold.phi"])
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(phi)), note["id"]
        for m in note["annotations"]["gold.mentions"]:
            assert all(m["end"] <= s or e <= m["start"] for s, e in phi), (note["id"], m)


def test_every_phi_type_occurs(records):
    labels = collections.Counter(ann["label"] for _, ann, _ in _spans(records, "gold.phi"))
    assert set(labels) == PHI_TYPES


def test_patient_names_in_text_match_patient_object(records):
    forms = collections.Counter()
    for note, ann, span in _spans(records, "gold.phi", "NAME"):
        if ann["attributes"].get("role") != "patient":
            continue
        first, last = note["patient"]["name"].split(" ", 1)
        if re.fullmatch(r"[A-Z]\.[A-Z]\.", span):
            assert span == f"{first[0]}.{last[0]}.", (note["id"], span)
            forms["initials"] += 1
            continue
        tokens = [t for t in re.split(r"[ ,]+", span) if t]
        assert tokens and all(t.lower() in {first.lower(), last.lower()} for t in tokens), (note["id"], span)
        forms["caps" if span.isupper() else "mixed"] += 1
    assert set(forms) == {"initials", "caps", "mixed"}


def test_name_variants_and_roles(records):
    roles = {ann["attributes"].get("role") for _, ann, _ in _spans(records, "gold.phi", "NAME")}
    assert roles == {"patient", "relative", "clinician"}
    texts = [note["text"][ann["start"] - 4 : ann["end"]] for note, ann, _ in _spans(records, "gold.phi", "NAME")]
    assert any(t.startswith("Dr. ") for t in texts)


def test_birth_dates_in_text_match_patient_object(records):
    for note in records:
        text, checked = note["text"], 0
        for ann in note["annotations"]["gold.phi"]:
            if ann["label"] == "DATE" and text[max(0, ann["start"] - 5) : ann["start"]] == "DOB: ":
                assert _parse_date(text[ann["start"] : ann["end"]]) == date.fromisoformat(note["patient"]["birth_date"])
                checked += 1
        assert checked == (0 if note["kind"] == "nursing_note" else 1), note["id"]


def test_date_forms_vary(records):
    dates = [span for _, _, span in _spans(records, "gold.phi", "DATE")]
    patterns = {
        "mm/dd/yyyy": r"\d{2}/\d{2}/\d{4}", "m/d": r"\d{1,2}/\d{1,2}", "long": r"[A-Z][a-z]+ \d{1,2}, \d{4}",
        "abbr ordinal": r"[A-Z][a-z]{2} \d{1,2}(st|nd|rd|th)", "iso": r"\d{4}-\d{2}-\d{2}",
        "day ordinal": r"\d{1,2}(st|nd|rd|th)", "year": r"(19|20)\d{2}",
    }
    for name, pattern in patterns.items():
        assert any(re.fullmatch(pattern, d) for d in dates), name


def test_ages_over_89_are_phi_and_others_are_not(records):
    ages = [span for _, _, span in _spans(records, "gold.phi", "AGE")]
    assert ages and all(int(a) > 89 for a in ages)
    for note in records:
        starts = {a["start"] for a in note["annotations"]["gold.phi"] if a["label"] == "AGE"}
        for match in re.finditer(r"\b(\d{1,3})(?=-year-old| y/o)", note["text"]):
            assert (int(match.group(1)) > 89) == (match.start() in starts), (note["id"], match.group(0))


def test_mentions_labels_and_assertion_flags(records):
    flags = collections.Counter()
    for _, ann, _ in _spans(records, "gold.mentions"):
        assert ann["label"] in MENTION_LABELS
        attributes = ann["attributes"]
        assert all(isinstance(attributes[f], bool) for f in FLAGS)
        flags.update(f for f in FLAGS if attributes[f])
        if "icd10" in attributes:
            assert ann["label"] == "PROBLEM" and re.fullmatch(r"[A-Z]\d{2}(\.[0-9A-Z]{1,4})?", attributes["icd10"])
    assert set(flags) == set(FLAGS)
    labels = {ann["label"] for _, ann, _ in _spans(records, "gold.mentions")}
    assert labels == MENTION_LABELS


def test_icd10_codes_are_valid_when_checker_available(records):
    icd = pytest.importorskip("simple_icd_10_cm")
    mentions = [ann["attributes"] for _, ann, _ in _spans(records, "gold.mentions")]
    codes = {attributes["icd10"] for attributes in mentions if "icd10" in attributes}
    assert codes and all(icd.is_valid_item(code) for code in codes)


def test_sections_cover_headers(records):
    header_lines = set(HEADERS)
    for note in records:
        text, sections = note["text"], note["annotations"]["gold.sections"]
        assert sections
        starts = set()
        for prev, sec in zip([None, *sections[:-1]], sections, strict=True):
            assert sec["label"] in SECTION_LABELS
            start, header_end = sec["start"], sec["attributes"]["header_end"]
            header = text[start:header_end]
            assert HEADERS[header] == sec["label"]
            assert (start == 0 or text[start - 1] == "\n") and text[header_end] == "\n"
            assert sec["end"] >= header_end
            assert prev is None or prev["end"] <= start
            starts.add(start)
        offset = 0
        for line in text.splitlines(keepends=True):
            if line.rstrip("\n") in header_lines:
                assert offset in starts, (note["id"], line)
            offset += len(line)


def test_shipped_sample_matches_fresh_generation(records, tmp_path):
    fresh = tmp_path / "records.jsonl"
    write_jsonl(records, fresh)
    assert SAMPLE.read_bytes() == fresh.read_bytes()
    assert SAMPLE.stat().st_size < 1_200_000


def test_cli_writes_jsonl(tmp_path):
    out = tmp_path / "out" / "notes.jsonl"
    assert main(["--patients", "2", "--notes-per-patient", "3", "--seed", "5", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == generate_records(2, 3, 5)
