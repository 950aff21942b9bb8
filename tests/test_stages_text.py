"""Tests of the built-in text stages: normalizer, section detector, sentence splitter."""

from __future__ import annotations

import json

import pytest

from carelm.core.errors import ConfigError, PipelineError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import BUILTIN_STAGE_MODULES, create_stage, registered_stages
from carelm.core.types import Note, Span
from carelm.extract.normalize import TextNormalizer, normalize_text
from carelm.extract.sections import SectionDetector, section_at
from carelm.extract.sentences import SentenceSplitter


@pytest.fixture(scope="module")
def detector() -> SectionDetector:
    stage = SectionDetector()
    stage.warm_up()
    return stage


@pytest.fixture(scope="module")
def splitter() -> SentenceSplitter:
    stage = SentenceSplitter()
    stage.warm_up()
    return stage


def sentences_of(text: str, detector: SectionDetector, splitter: SentenceSplitter) -> list[str]:
    return [span.text_of(text) for span in splitter.split(text, detector.find(text))]


# --- normalizer -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BP\t120/80", "BP 120/80"),
        ("a\r\nb", "a \nb"),
        ("a\rb", "a\nb"),
        ("a\r\rb", "a\n\nb"),
        ("5\u00a0mg", "5 mg"),
        ("5\u202fmg\u2009x", "5 mg x"),
        ("\ufeffHPI", " HPI"),
        ("\u201cpain\u201d", '"pain"'),
        ("pt\u2019s", "pt's"),
        ("3\u20134 days \u2014 better", "3-4 days - better"),
        ("K \u2212 low", "K - low"),
        ("a\x00b\x07c\x7fd", "a b c d"),
        ("page\x0cbreak", "page\nbreak"),
        ("line\u2028next", "line\nnext"),
        ("HPI\uff1a ok", "HPI: ok"),
        ("wait\u2026 \ufb01ne", "wait\u2026 \ufb01ne"),
        ("plain ascii stays.", "plain ascii stays."),
    ],
)
def test_normalizer_maps_each_character_and_keeps_length(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected
    assert len(normalize_text(raw)) == len(raw)


def test_normalizer_stage_writes_view() -> None:
    note = Note("Dx:\u00a0CHF\r\n")
    TextNormalizer()([note])
    assert note.views["normalized"] == "Dx: CHF \n"
    assert note.views["raw"] == "Dx:\u00a0CHF\r\n"


# --- sections ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("HISTORY OF PRESENT ILLNESS: 71F with dyspnea", "hpi"),
        ("HPI: 71F with dyspnea", "hpi"),
        ("History of Present Illness:", "hpi"),
        ("PMH: asthma", "pmh"),
        ("PAST MEDICAL HISTORY:", "pmh"),
        ("PMHx: asthma", "pmh"),
        ("PSH: appendectomy", "psh"),
        ("MEDICATIONS:", "medications"),
        ("Meds: albuterol", "medications"),
        ("MEDICATIONS ON ADMISSION:", "medications"),
        ("ALLERGIES: penicillin", "allergies"),
        ("FAMILY HISTORY:", "family_history"),
        ("FHx: CAD in father", "family_history"),
        ("SOCIAL HISTORY:", "social_history"),
        ("SHx: lives alone", "social_history"),
        ("REVIEW OF SYSTEMS:", "ros"),
        ("ROS: negative", "ros"),
        ("PHYSICAL EXAM:", "physical_exam"),
        ("PHYSICAL EXAMINATION:", "physical_exam"),
        ("EXAM: lungs clear", "physical_exam"),
        ("VITAL SIGNS: T 37.1", "vitals"),
        ("VITALS:", "vitals"),
        ("LABS: Na 139", "labs"),
        ("LABORATORY DATA:", "labs"),
        ("PERTINENT RESULTS:", "labs"),
        ("IMAGING: CXR clear", "imaging"),
        ("RADIOLOGY:", "imaging"),
        ("HOSPITAL COURSE:", "hospital_course"),
        ("BRIEF HOSPITAL COURSE:", "hospital_course"),
        ("ASSESSMENT AND PLAN:", "assessment_plan"),
        ("A/P: COPD flare", "assessment_plan"),
        ("ASSESSMENT/PLAN:", "assessment_plan"),
        ("Assessment / Plan:", "assessment_plan"),
        ("IMPRESSION AND PLAN", "assessment_plan"),
        ("ASSESSMENT: improving", "assessment"),
        ("PLAN: discharge home", "plan"),
        ("Plan: continue nebulizers", "plan"),
        ("DISCHARGE MEDICATIONS:", "discharge_medications"),
        ("DISCHARGE INSTRUCTIONS:", "discharge_instructions"),
        ("FOLLOW-UP: clinic in 1 week", "follow_up"),
        ("FOLLOW UP: clinic", "follow_up"),
        ("INDICATION: cough", "indication"),
        ("CLINICAL HISTORY: fever", "indication"),
        ("TECHNIQUE: PA and lateral", "technique"),
        ("COMPARISON: none", "comparison"),
        ("FINDINGS: no effusion", "findings"),
        ("IMPRESSION: no acute process", "impression"),
        ("S: feels better", "subjective"),
        ("O: afebrile", "objective"),
        ("A: resolving bronchitis", "assessment"),
        ("P: finish antibiotics", "plan"),
        ("DISCHARGE DIAGNOSIS: pneumonia", "diagnoses"),
        ("CHIEF COMPLAINT: wheeze", "chief_complaint"),
        ("CC: wheeze", "chief_complaint"),
        ("REASON FOR ADMISSION", "chief_complaint"),
        ("PROCEDURES: none", "procedures"),
        ("HISTORY: 50M smoker", "history"),
        ("  - Plan: recheck in am", "plan"),
        ("2. ASSESSMENT: stable", "assessment"),
        ("## FINDINGS", "findings"),
    ],
)
def test_header_variants(detector: SectionDetector, line: str, label: str) -> None:
    text = f"Intro line.\n{line}\nmore text\n"
    spans = detector.find(text)
    assert [span.label for span in spans] == [label]
    span = spans[0]
    assert span.start == text.index(line.strip(" -#0123456789."))
    assert span.end == len(text)
    assert span.attributes["header"].lower() in line.lower()
    assert span.stage == "carelm.sections.v1"


@pytest.mark.parametrize(
    "text",
    [
        "Patient denies chest pain. Plan: continue current regimen.\n",
        "NKDA\n",
        "Allergy review: NKDA\n",
        "Hpi\n",
        "Planned: admission tomorrow\n",
        "S\nO\nA\nP\n",
        "PLANNING DISCHARGE\n",
        "Exam was limited by habitus.\n",
    ],
)
def test_non_headers(detector: SectionDetector, text: str) -> None:
    assert detector.find(text) == []


def test_section_boundaries_and_helper(detector: SectionDetector) -> None:
    text = "Seen today.\nHPI: cough x3d.\nALLERGIES: NKDA\nPLAN\nrest\n"
    spans = detector.find(text)
    assert [(s.label, s.attributes["header"]) for s in spans] == [
        ("hpi", "HPI"),
        ("allergies", "ALLERGIES"),
        ("plan", "PLAN"),
    ]
    hpi, allergies, plan = spans
    assert hpi.end == allergies.start
    assert hpi.attributes["header_end"] == text.index("HPI:") + 4
    assert plan.attributes["header_end"] == text.index("PLAN") + 4
    assert section_at(spans, 0) is None
    assert section_at(spans, text.index("cough")) == "hpi"
    assert section_at(spans, text.index("NKDA")) == "allergies"
    assert section_at(spans, text.index("rest")) == "plan"
    assert section_at([], 3) is None


# --- sentences --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen by Dr. Lee today. Doing well.", ["Seen by Dr. Lee today.", "Doing well."]),
        ("Mrs. Ray vs. Ms. Kay. Stable.", ["Mrs. Ray vs. Ms. Kay.", "Stable."]),
        ("Took 2.5 mg nightly. Improved.", ["Took 2.5 mg nightly.", "Improved."]),
        ("Give 40 mg. PO daily. Recheck K.", ["Give 40 mg. PO daily.", "Recheck K."]),
        ("Takes drug b.i.d. Tolerating it.", ["Takes drug b.i.d. Tolerating it."]),
        ("Seen by J. Ortiz in clinic. Fine.", ["Seen by J. Ortiz in clinic.", "Fine."]),
        ("Use inhaler, e.g. Before exercise.", ["Use inhaler, e.g. Before exercise."]),
        ("Room No. 4 was used. Quiet.", ["Room No. 4 was used.", "Quiet."]),
        ("Any pain? No. Sleeping well!", ["Any pain?", "No.", "Sleeping well!"]),
        ('He said "better." Then slept.', ['He said "better."', "Then slept."]),
        ("Weight 80 kg. 2 falls last month.", ["Weight 80 kg.", "2 falls last month."]),
        ("Cough noted.\n\nfever resolved", ["Cough noted.", "fever resolved"]),
        ("Meds reviewed\n- albuterol\n- fluticasone", ["Meds reviewed", "- albuterol", "- fluticasone"]),
        ("Problems:\n1. asthma\n2. GERD", ["Problems:", "1. asthma", "2. GERD"]),
        ("1. Asthma, stable. Continue.", ["1. Asthma, stable.", "Continue."]),
        ("BP: 118/76\nHR: 64\nSpO2: 97%", ["BP: 118/76", "HR: 64", "SpO2: 97%"]),
        ("Lungs clear\nHeart regular", ["Lungs clear", "Heart regular"]),
        (
            "The patient is a pleasant woman with long standing asthma who\npresents with wheeze.",
            ["The patient is a pleasant woman with long standing asthma who\npresents with wheeze."],
        ),
        (
            "The patient is a pleasant woman with long standing asthma and\nGERD who presents today.",
            ["The patient is a pleasant woman with long standing asthma and\nGERD who presents today."],
        ),
        ("   \n  .  \n", []),
    ],
)
def test_sentence_rules(detector: SectionDetector, splitter: SentenceSplitter, text: str, expected: list[str]) -> None:
    assert sentences_of(text, detector, splitter) == expected


def test_sentences_respect_sections_and_skip_headers(detector: SectionDetector, splitter: SentenceSplitter) -> None:
    text = "Clinic visit\nHPI: Wheeze for two days, worse at night\nPLAN: Albuterol. Return prn.\n"
    spans = splitter.split(text, detector.find(text))
    assert [(span.text_of(text), span.attributes["section"]) for span in spans] == [
        ("Clinic visit", None),
        ("Wheeze for two days, worse at night", "hpi"),
        ("Albuterol.", "plan"),
        ("Return prn.", "plan"),
    ]
    assert all(span.label == "sentence" and span.stage == "carelm.sentences.v1" for span in spans)


def test_sentence_never_crosses_section(splitter: SentenceSplitter) -> None:
    text = "wheeze and cough with no stop"
    sections = [Span(0, 10, "hpi", {"header_end": 0}), Span(10, len(text), "plan", {"header_end": 10})]
    spans = splitter.split(text, sections)
    assert [(span.text_of(text), span.attributes["section"]) for span in spans] == [
        ("wheeze and", "hpi"),
        ("cough with no stop", "plan"),
    ]


# --- rules files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage_cls", "data", "message"),
    [
        (SectionDetector, {"version": 1, "sections": [], "colour": 1}, "unknown key 'colour'"),
        (SectionDetector, {"version": 1, "sections": [{"name": "hpi", "headers": ["hpi"], "x": 1}]}, "unknown key 'x'"),
        (SectionDetector, {"version": 1, "sections": [{"name": "hpi", "headers": "hpi"}]}, "'headers' must be"),
        (SectionDetector, {"version": 1, "sections": [{"name": "hpi"}]}, "missing keys ['headers']"),
        (SectionDetector, {"version": 2, "sections": []}, "unsupported version"),
        (SectionDetector, {"version": 1, "sections": [], "bare_header_min_length": True}, "must be of type int"),
        (
            SectionDetector,
            {"version": 1, "sections": [{"name": "a", "headers": ["x"]}, {"name": "b", "headers": ["X"]}]},
            "also listed",
        ),
        (SentenceSplitter, {"version": 1, "abbreviations": [], "extra": []}, "unknown key 'extra'"),
        (SentenceSplitter, {"version": 1, "abbreviations": ["dr"]}, "ending in '.'"),
        (SentenceSplitter, {"version": 1, "abbreviations": [], "short_line_chars": "40"}, "must be of type int"),
        (SentenceSplitter, {"abbreviations": []}, "missing keys ['version']"),
    ],
)
def test_rules_validation(tmp_path, stage_cls, data, message: str) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    stage = stage_cls(rules_path=str(path))
    with pytest.raises(ConfigError, match="accepted keys|must|also listed|unsupported") as info:
        stage.warm_up()
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_key_error_lists_accepted_keys(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": 1, "sections": [], "colour": 1}))
    with pytest.raises(ConfigError, match="accepted keys: bare_header_min_length, sections, version"):
        SectionDetector(rules_path=str(path)).warm_up()


def test_user_rules_file_and_bad_files(tmp_path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"version": 1, "sections": [{"name": "triage", "headers": ["triage notes"]}]}))
    stage = SectionDetector(rules_path=str(path))
    assert [s.label for s in stage.find("TRIAGE NOTES: walked in\nHPI: none\n")] == ["triage"]
    assert stage.params == {"rules_path": str(path)}
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        SectionDetector(rules_path=str(tmp_path / "broken.json")).warm_up()
    with pytest.raises(ConfigError, match="not found"):
        SentenceSplitter(rules_path=str(tmp_path / "missing.json")).warm_up()


# --- pipeline ---------------------------------------------------------------------------------------------------


def test_default_pipeline_produces_layers() -> None:
    text = "Follow-up visit.\r\nCC: cough\r\nASSESSMENT AND PLAN:\r\n- Bronchitis \u2013 improving. Stop inhaler.\r\n"
    result = Pipeline.default().run([Note(text, id="n1")])
    assert not result.failed
    note = result.done[0]
    assert len(note.views["normalized"]) == len(text)
    assert [s.label for s in note.layers["sections"]] == ["chief_complaint", "assessment_plan"]
    sentences = [(s.text_of(note.text), s.attributes["section"]) for s in note.layers["sentences"]]
    assert sentences == [
        ("Follow-up visit.", None),
        ("cough", "chief_complaint"),
        ("- Bronchitis \u2013 improving.", "assessment_plan"),
        ("Stop inhaler.", "assessment_plan"),
    ]


def test_rerun_assigns_layers_instead_of_appending() -> None:
    pipeline = Pipeline.default()
    note = Note("HPI: cough. Better now.\n")
    pipeline.run([note])
    pipeline.run([note])
    assert len(note.layers["sections"]) == 1
    assert len(note.layers["sentences"]) == 2


def test_sentences_before_sections_is_rejected() -> None:
    with pytest.raises(PipelineError, match="carelm.sentences.v1"):
        Pipeline.from_names(["carelm.normalize.v1", "carelm.sentences.v1", "carelm.sections.v1"])


def test_pipeline_round_trip(tmp_path) -> None:
    rules = tmp_path / "sections.json"
    rules.write_text(json.dumps({"version": 1, "sections": [{"name": "hpi", "headers": ["hpi"]}]}))
    pipeline = Pipeline(
        [create_stage("carelm.normalize.v1"), SectionDetector(rules_path=str(rules)), SentenceSplitter()]
    )
    data = json.loads(json.dumps(pipeline.to_dict()))
    again = Pipeline.from_dict(data)
    assert again.to_dict() == data
    assert again.fingerprint == pipeline.fingerprint
    assert data["stages"][1] == {"stage": "carelm.sections.v1", "params": {"rules_path": str(rules)}}


def test_stage_rejects_unknown_params() -> None:
    with pytest.raises(PipelineError, match="unknown parameters"):
        create_stage("carelm.sections.v1", rules="x")
    with pytest.raises(ConfigError, match="rules_path"):
        SentenceSplitter(rules_path=3)  # type: ignore[arg-type]


def test_builtin_stage_names_snapshot() -> None:
    builtin = [name for name, cls in registered_stages().items() if cls.__module__ in BUILTIN_STAGE_MODULES]
    assert builtin == [
        "carelm.context.v1",
        "carelm.deid.v1",
        "carelm.icd10.v1",
        "carelm.ner.v1",
        "carelm.normalize.v1",
        "carelm.sections.v1",
        "carelm.sentences.v1",
        "carelm.terms.v1",
    ]
