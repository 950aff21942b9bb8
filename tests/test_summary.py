"""Patient summaries from a real store: made-up notes and a FHIR bundle, processed by the real pipeline."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest

from carelm.core.errors import NotFoundError
from carelm.core.pipeline import Pipeline
from carelm.core.settings import Settings, get_settings
from carelm.core.types import Answer, Span
from carelm.generate.faithfulness import check_answer, check_summary
from carelm.generate.summary_model import FieldCitation, PatientSummary, SourceNote, SpanCitation
from carelm.generate.summary_render import render_markdown
from carelm.generate.summary_spans import ViewMap
from carelm.service import ingest as ingest_service
from carelm.service import process as process_service
from carelm.service import summary as summary_service
from carelm.service.context import Context
from tests.conftest import TEST_KEY

# The shared store is filled once by the full default pipeline (its first run builds the ICD-10-CM dictionary).
pytestmark = pytest.mark.slow

PATIENT = {"id": "QM-4471", "name": "Quentin Marsh", "birth_date": "1961-02-11", "sex": "male"}
VISIT = (
    "CLINIC VISIT\nPatient: Quentin Marsh | MRN: QM-4471\n\n"
    "CHIEF COMPLAINT:\nCough for 3 days.\n\n"
    "HISTORY OF PRESENT ILLNESS:\nMr. Marsh reports cough and fever since Sunday. He denies chest pain.\n\n"
    "PAST MEDICAL HISTORY:\nAsthma.\n\n"
    "FAMILY HISTORY:\nMother with diabetes.\n\n"
    "MEDICATIONS:\n1. albuterol 90 mcg inhaled q4h PRN\n\n"
    "ALLERGIES:\nPenicillin (rash).\n\n"
    "VITAL SIGNS:\nTemp 100.9 F | Pulse 101 | BP 128/76\n\n"
    "ASSESSMENT:\nAcute bronchitis.\n"
)
FOLLOW_UP = ("FOLLOW-UP VISIT\n\nHISTORY OF PRESENT ILLNESS:\n"
             "Seen again for bronchitis. No fever today. Possible pneumonia was considered.\n\n"
             "PLAN:\nContinue albuterol.\n")
NOTES = [
    {"id": "qm-1", "patient": PATIENT, "record": "qm-enc-1", "kind": "progress_note", "title": "Clinic visit",
     "date": "2023-03-02", "text": VISIT},
    {"id": "qm-2", "patient": PATIENT, "record": "qm-enc-2", "kind": "progress_note", "title": "Follow-up",
     "date": "2023-03-20", "text": FOLLOW_UP},
]
SUBJECT = {"reference": "Patient/qm"}
BUNDLE = {"resourceType": "Bundle", "id": "qm-bundle", "type": "collection", "entry": [{"resource": r} for r in [
    {"resourceType": "Patient", "id": "qm", "identifier": [{"value": "QM-4471"}]},
    {"resourceType": "Condition", "subject": SUBJECT, "onsetDateTime": "2001-05-01",
     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J45.909", "display": "Asthma"}]},
     "clinicalStatus": {"coding": [{"code": "active"}]}},
    {"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
     "medicationCodeableConcept": {"text": "Albuterol"}, "effectiveDateTime": "2022-11-01"},
    {"resourceType": "AllergyIntolerance", "patient": SUBJECT, "code": {"text": "Peanut"}},
    {"resourceType": "Observation", "status": "final", "subject": SUBJECT, "effectiveDateTime": "2023-03-02",
     "code": {"text": "Body temperature"}, "valueQuantity": {"value": 38.3, "unit": "Cel"}},
]]}
# A second patient whose notes are processed without de-identification: citations then index the raw text.
PLAIN = {"id": "plain-1", "patient": {"id": "PL-2090"}, "kind": "progress_note", "date": "2024-01-05",
         "text": "HISTORY OF PRESENT ILLNESS:\nShortness of breath. No chest pain.\n"}
TEXT_STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.terms.v1",
               "carelm.context.v1"]
_PREPARED: dict[str, Settings] = {}


def fill_store(ctx: Context) -> None:
    """Ingest and process the made-up records with the real pipelines."""
    for note in NOTES:
        ingest_service.ingest_payload(ctx, note)
    ingest_service.ingest_payload(ctx, BUNDLE)
    assert process_service.process_notes(ctx).notes_failed == 0
    ingest_service.ingest_payload(ctx, PLAIN)
    assert process_service.process_notes(ctx, Pipeline.from_names(TEXT_STAGES)).notes_done == 1


def prepared_settings(factory: pytest.TempPathFactory) -> Settings:
    """Settings of a SQLite store filled once per test session (summaries only read it)."""
    if "sqlite" not in _PREPARED:
        settings = get_settings(profile="test", data_dir=factory.mktemp("summaries") / "data", secret_key=TEST_KEY)
        ctx = Context(settings, actor="test")
        fill_store(ctx)
        ctx.close()
        _PREPARED["sqlite"] = settings
    return _PREPARED["sqlite"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Iterator[Context]:
    ctx = Context(prepared_settings(tmp_path_factory), actor="test")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def summary(filled: Context) -> PatientSummary:
    return summary_service.summarize_patient(filled, "QM-4471")


def named(items, term: str):
    found = [item for item in items if item.term.lower() == term]
    assert len(found) == 1, [item.term for item in items]
    return found[0]


def test_statuses_and_categories(summary: PatientSummary):
    assert named(summary.problems, "acute bronchitis").status == "present"
    assert named(summary.problems, "pneumonia").status == "uncertain"
    assert named(summary.problems, "asthma").status == "historical"  # past history in the latest note citing it
    assert named(summary.findings, "cough").status == "present"
    assert named(summary.findings, "chest pain").status == "negated"
    assert named(summary.findings, "fever").status == "negated"  # "No fever today" in the later note
    assert "diabetes" not in {item.term for item in (*summary.problems, *summary.findings)}
    assert named(summary.family_history, "diabetes").status == "present"
    assert named(summary.allergies, "penicillin (rash)").status == "present"
    [peanut] = named(summary.allergies, "peanut").citations
    assert isinstance(peanut, FieldCitation) and (peanut.table, peanut.field, peanut.value) == (
        "record_items", "display", "Peanut")
    assert "rash" not in {item.term for item in summary.findings}  # a reaction, not a finding
    assert {item.id for item in summary.pertinent_negatives()} == {
        named(summary.findings, "chest pain").id, named(summary.findings, "fever").id}


def test_the_same_fact_from_notes_and_items_is_one_item_with_every_citation(summary: PatientSummary):
    fever = named(summary.findings, "fever")
    assert len({c.note_id for c in fever.citations}) == 2
    assert [c.status for c in fever.citations] == ["present", "negated"]
    albuterol = named(summary.medications, "albuterol")
    kinds = [type(c).__name__ for c in albuterol.citations]
    assert kinds == ["FieldCitation", "SpanCitation", "SpanCitation"]  # the 2022 record item, then both notes
    asthma = named(summary.problems, "asthma")
    assert {c["code"] for c in asthma.codes} == {"J45.909"} and len(asthma.citations) == 2
    temperature = named(summary.findings, "body temperature")
    assert (temperature.value, temperature.unit) == ("38.3", "Cel")
    vitals = named(summary.findings, "vital signs")
    assert vitals.value == "Temp 100.9 F | Pulse 101 | BP 128/76"
    assert vitals.citations[0].quote.startswith("VITAL SIGNS")


def test_every_citation_resolves_exactly_to_the_stored_text(filled: Context, summary: PatientSummary):
    entries = [*summary.items(), *summary.timeline]
    assert entries and all(entry.citations for entry in entries)
    for entry in entries:
        for citation in entry.citations:
            if isinstance(citation, SpanCitation):
                stored = filled.store.records.stored_note(citation.note_id, include_text=False)
                assert citation.view == "deid"
                assert stored.deid_text[citation.start:citation.end] == citation.quote
    marsh = named(summary.findings, "cough").citations
    assert any("reports cough" in c.quote for c in marsh)
    assert not any("Marsh" in c.quote for item in summary.items() for c in item.citations if hasattr(c, "quote"))
    report = summary_service.check_citations(filled, summary)
    assert report.failures == []
    assert report.to_dict()["items_cited_pct"] == report.to_dict()["resolved_pct"] == 100.0
    assert report.facts_checked > 20 and report.facts_contained == report.facts_checked


def test_the_check_catches_a_wrong_quote_and_a_wrong_fact(filled: Context, summary: PatientSummary):
    cough = named(summary.findings, "cough")
    first = cough.citations[0]
    shifted = dataclasses.replace(first, start=first.start + 1)
    wrong_term = dataclasses.replace(cough, term="wheezing", concepts=[], citations=[first])
    broken = PatientSummary(summary.patient_id, findings=[dataclasses.replace(cough, citations=[shifted]),
                                                          wrong_term])
    report = check_summary(broken, summary_service.StoredCitations(filled), concept_names={})
    problems = {(f["item"], f["problem"]) for f in report.failures}
    assert (cough.id, "does not resolve to the stored data") in problems
    assert (cough.id, "the cited text does not hold the claimed fact") in problems
    assert report.resolved == 1 and report.facts_contained == 0


def test_answers_are_checked_like_summary_items(filled: Context, summary: PatientSummary):
    cited = named(summary.findings, "vital signs").citations[0]
    good = Answer("Temperature 100.9 F, pulse 101.", [cited.to_citation()])
    report = check_answer(good, summary_service.StoredCitations(filled))
    assert report.failures == [] and report.resolved == 1 and report.facts_contained == report.facts_checked == 2
    moved = dataclasses.replace(cited.to_citation(), end=cited.end - 1)
    bad = Answer("Temperature 102.5 F.", [moved])
    problems = [f["problem"] for f in check_answer(bad, summary_service.StoredCitations(filled)).failures]
    assert problems == ["does not resolve", "a number of the answer is in no quote"]


def test_timeline_is_in_date_order_and_cites_the_stored_dates(summary: PatientSummary):
    dates = [entry.date for entry in summary.timeline]
    assert dates == sorted(dates) and len(dates) == 5
    kinds = [entry.kind for entry in summary.timeline]
    assert kinds == ["condition", "medication", "observation", "note", "note"]  # one day: a date before a date-time
    first_visit = summary.timeline[3]
    assert first_visit.label == "Clinic visit (progress note)"
    assert first_visit.citations[0].field == "authored_at" and first_visit.citations[0].value.startswith("2023-03-02")
    assert named(summary.findings, "cough").id in first_visit.item_ids
    assert named(summary.problems, "pneumonia").id in summary.timeline[-1].item_ids


def test_markdown_groups_items_and_lists_every_marker(summary: PatientSummary):
    text = render_markdown(summary)
    assert "## Active problems" in text and "## Pertinent negatives" in text and "## Timeline" in text
    negatives = text.split("## Pertinent negatives")[1].split("##")[0]
    assert "chest pain" in negatives and "cough" not in negatives
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", text.split("## Sources")[0])}
    sources = text.split("## Sources")[1]
    assert markers and all(f"[{m}] " in sources for m in markers)
    body = summary.to_dict()
    assert body["pertinent_negatives"] and body["problems"][0]["citations"][0]["type"] in ("span", "field")


def test_patient_by_ingest_id_or_stored_id_and_unknown(filled: Context, summary: PatientSummary):
    assert summary_service.find_patient(filled, summary.patient_id) == summary.patient_id
    with pytest.raises(NotFoundError) as caught:
        summary_service.summarize_patient(filled, "nobody-here")
    assert caught.value.location == "patient_id" and "nobody-here" not in caught.value.message


def test_a_note_without_deidentification_is_cited_in_its_raw_text(filled: Context):
    plain = summary_service.summarize_patient(filled, "PL-2090")
    breath = named(plain.findings, "shortness of breath")
    [citation] = breath.citations
    raw = filled.store.records.stored_note(citation.note_id, include_text=True).text
    assert citation.view == "raw" and raw[citation.start:citation.end] == citation.quote
    assert named(plain.findings, "chest pain").status == "negated"
    assert summary_service.check_citations(filled, plain).failures == []


@pytest.mark.parametrize(("position", "is_end", "expected"), [
    (0, False, 0), (4, False, 4),      # before the first replacement
    (5, False, 5), (10, True, 13),     # a replaced span maps to its replacement
    (7, False, 5), (7, True, 13),      # strictly inside: widened to the whole replacement
    (12, False, 15), (20, False, 21),  # after: shifted by +3, then by +3 - 2
])
def test_raw_offsets_move_into_the_deidentified_text(position, is_end, expected):
    phi = [Span(5, 10, "NAME", {"new_start": 5, "new_end": 13}), Span(15, 19, "DATE", {"new_start": 18, "new_end": 20})]
    note = SourceNote("n", "r", "note", None, None, "x" * 40, "deid", {"phi": phi})
    assert ViewMap(note).position(position, is_end=is_end) == expected
    assert ViewMap(dataclasses.replace(note, view="raw")).position(position, is_end=is_end) == position


def test_summary_on_each_backend(ctx: Context):
    """Ingest, process and summarise on SQLite and (in CI) PostgreSQL: every citation resolves."""
    ingest_service.ingest_payload(ctx, NOTES[1])
    assert process_service.process_notes(ctx).notes_done == 1
    found = summary_service.summarize_patient(ctx, "QM-4471")
    assert named(found.findings, "fever").status == "negated"
    report = summary_service.check_citations(ctx, found)
    assert report.failures == [] and report.resolved == report.citations > 0
