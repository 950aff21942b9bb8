"""FHIR R4 bundles: patients, notes from DocumentReference and Composition, structured items, bad entries."""

from __future__ import annotations

import base64
import copy
import json
from datetime import date, datetime

import pytest

from carelm.ingest.base import IngestIssue, ParsedRecord
from carelm.ingest.fhir import FhirBundleReader, parse_bundle, xhtml_to_text

NOTE = "Patient reports cough. No fever."
SUBJECT = {"reference": "Patient/pt-1"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _bundle() -> dict:
    resources = [
        {
            "resourceType": "Patient",
            "id": "pt-1",
            "identifier": [{"system": "urn:test:mrn", "value": "MRN-001"}],
            "name": [{"given": ["Test"], "family": "Patient"}],
            "birthDate": "1970-05-01",
            "gender": "female",
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc-1",
            "status": "current",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]},
            "subject": SUBJECT,
            "date": "2024-03-01T09:15:00+00:00",
            "description": "Clinic visit",
            "content": [
                {"attachment": {"contentType": "application/pdf", "data": _b64("%PDF")}},
                {"attachment": {"contentType": "text/plain; charset=utf-8", "data": _b64(NOTE)}},
            ],
        },
        {
            "resourceType": "Composition",
            "id": "comp-1",
            "status": "final",
            "type": {"text": "Discharge summary"},
            "subject": SUBJECT,
            "date": "2024-03-05",
            "author": [{"display": "Test Clinician"}],
            "title": "Discharge",
            "section": [
                {"title": "History", "text": {"status": "generated", "div": _div("<p>Cough for 3 days.</p>")}},
                {
                    "title": "Plan",
                    "text": {"status": "generated", "div": _div("<p>Rest &amp; fluids.</p><p>Follow up.</p>")},
                },
            ],
        },
        {
            "resourceType": "Condition",
            "subject": SUBJECT,
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R05", "display": "Cough"}]},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "onsetDateTime": "2024-02-27",
        },
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"text": "Test syrup 10 mL"},
            "effectivePeriod": {"start": "2024-03-01"},
        },
        {"resourceType": "AllergyIntolerance", "patient": SUBJECT, "code": {"text": "Peanut"}},
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}]},
            "subject": SUBJECT,
            "effectiveDateTime": "2024-03-01T09:00:00+00:00",
            "valueQuantity": {"value": 36.8, "unit": "Cel"},
        },
        {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
    ]
    return {
        "resourceType": "Bundle",
        "id": "bundle-1",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _div(inner: str) -> str:
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{inner}</div>'


def _split(results: list) -> tuple[list[ParsedRecord], list[IngestIssue]]:
    return [r for r in results if isinstance(r, ParsedRecord)], [r for r in results if isinstance(r, IngestIssue)]


def test_valid_bundle_gives_one_record_with_notes_and_items(tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle()), encoding="utf-8")
    reader = FhirBundleReader()
    records, issues = _split(list(reader.read(path)))
    assert issues == [] and len(records) == 1 and reader.skipped == {"Encounter": 1}
    record = records[0].record
    assert (record.external_id, record.source) == ("bundle-1", str(path))
    patient = record.patient
    assert (patient.external_id, patient.name, patient.birth_date, patient.sex) == (
        "MRN-001",
        "Test Patient",
        date(1970, 5, 1),
        "female",
    )
    doc, comp = record.notes
    assert (doc.text, doc.external_id, doc.kind, doc.title) == (NOTE, "doc-1", "progress_note", "Clinic visit")
    assert doc.authored_at.replace(tzinfo=None) == datetime(2024, 3, 1, 9, 15)
    assert comp.text == "History:\nCough for 3 days.\n\nPlan:\nRest & fluids.\nFollow up."
    assert (comp.kind, comp.title, comp.authored_at) == ("discharge_summary", "Discharge", datetime(2024, 3, 5))
    kinds = [(i.kind, i.display, i.code, i.status) for i in record.items]
    assert kinds == [
        ("condition", "Cough", "R05", "active"),
        ("medication", "Test syrup 10 mL", None, "active"),
        ("allergy", "Peanut", None, None),
        ("observation", "Body temperature", "8310-5", "final"),
    ]
    condition, medication, _, observation = record.items
    assert condition.system == "http://hl7.org/fhir/sid/icd-10-cm" and condition.effective == "2024-02-27"
    assert medication.effective == "2024-03-01"
    assert (float(observation.value), observation.unit) == (36.8, "Cel")


@pytest.mark.parametrize(
    ("bad_field", "bad_value", "field_path"),
    [("code", 5, "Condition.code"), ("subject", "Patient/pt-1", "Condition.subject"), ("onsetDateTime", "soon", "")],
)
def test_malformed_entry_gives_one_issue_and_keeps_the_rest(bad_field, bad_value, field_path):
    bundle = _bundle()
    bundle["entry"][3]["resource"][bad_field] = bad_value
    records, issues = _split(list(parse_bundle(bundle, "in/b.json")))
    assert len(issues) == 1 and len(records) == 1
    issue = issues[0]
    assert issue.location.startswith("in/b.json#entry[3] Condition") and field_path in issue.location
    assert bad_field in issue.location and str(bad_value) not in issue.message
    record = records[0].record
    assert len(record.notes) == 2 and [i.kind for i in record.items] == ["medication", "allergy", "observation"]


def test_bundle_without_valid_patient_reports_bundle_and_entries():
    bundle = _bundle()
    bundle["entry"][0]["resource"]["birthDate"] = 19700501
    bundle["entry"][4]["resource"]["status"] = ["active"]
    records, issues = _split(list(parse_bundle(bundle, "b.json")))
    assert records == []
    locations = [i.location for i in issues]
    assert locations[0].startswith("b.json#entry[0] Patient.birthDate")
    assert locations[1].startswith("b.json#entry[4] MedicationStatement.status")
    assert locations[2] == "b.json" and "no valid Patient" in issues[2].message


def test_base64_document_reference_and_bad_attachments():
    bundle = _bundle()
    bundle["entry"] = bundle["entry"][:2]
    doc = bundle["entry"][1]["resource"]
    second = copy.deepcopy(doc)
    second["content"] = [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(b"\xff\xfe").decode()}}]
    third = copy.deepcopy(doc)
    third["content"] = [{"attachment": {"contentType": "text/plain", "data": "!!!not-base64"}}]
    fourth = copy.deepcopy(doc)
    fourth["content"] = [{"attachment": {"contentType": "text/html", "url": "http://example.invalid/x"}}]
    bundle["entry"] += [{"resource": second}, {"resource": third}, {"resource": fourth}]
    records, issues = _split(list(parse_bundle(bundle, "b.json")))
    assert [n.text for n in records[0].record.notes] == [NOTE]
    assert [i.location for i in issues] == [
        "b.json#entry[2] DocumentReference.content[0].attachment.data",
        "b.json#entry[3] DocumentReference.content[0].attachment.data",
        "b.json#entry[4] DocumentReference.content",
    ]
    assert "not-base64" not in issues[1].message and "base64" in issues[1].message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resourceType": "Patient", "id": "p"}, "expected a FHIR Bundle"),
        ([1, 2], "expected a FHIR Bundle"),
        ({"resourceType": "Bundle", "type": "collection"}, "no 'entry' list"),
        ({"resourceType": "Bundle", "entry": []}, "no 'entry' list"),
    ],
)
def test_non_bundles_are_issues(data, message):
    issue = _only(list(parse_bundle(data, "x.json")))
    assert isinstance(issue, IngestIssue) and issue.location == "x.json" and message in issue.message


def test_bundle_without_id_gets_a_stable_hash_id():
    bundle = _bundle()
    del bundle["id"]
    first = _only(list(parse_bundle(bundle, "a.json"))).record.external_id
    second = _only(list(parse_bundle(copy.deepcopy(bundle), "b.json"))).record.external_id
    assert first == second and first.startswith("bundle-") and len(first) == len("bundle-") + 16


def test_entry_without_resource_and_invalid_json_file(tmp_path):
    bundle = _bundle()
    bundle["entry"].append({"fullUrl": "urn:uuid:1"})
    records, issues = _split(list(parse_bundle(bundle, "b.json")))
    assert len(records) == 1 and [i.location for i in issues] == ["b.json#entry[8]"]
    path = tmp_path / "broken.json"
    path.write_text('{"resourceType": "Bundle", ', encoding="utf-8")
    issue = _only(list(FhirBundleReader().read(path)))
    assert isinstance(issue, IngestIssue) and "invalid JSON" in issue.message


def test_xhtml_to_text():
    assert xhtml_to_text(_div("<h3>Plan</h3><ul><li>A &lt; B</li><li>C</li></ul>text<br/>more")) == (
        "Plan\nA < B\nC\ntext\nmore"
    )


def _only(results: list):
    assert len(results) == 1, results
    return results[0]


def test_second_patient_is_reported_and_first_is_kept():
    bundle = _bundle()
    other = copy.deepcopy(bundle["entry"][0])
    other["resource"]["identifier"][0]["value"] = "MRN-002"
    bundle["entry"].append(other)
    records, issues = _split(list(parse_bundle(bundle, "b.json")))
    assert records[0].record.patient.external_id == "MRN-001"
    assert [i.location for i in issues] == ["b.json#entry[8]"] and "Test Patient" not in issues[0].message
