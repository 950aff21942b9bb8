"""Report drafts from a stored patient's summary, and the check that keeps a polished section honest.

The backends below are small classes implementing the Backend protocol that return fixed text: they stand
for an external model that misbehaves (or behaves); the extractive backend is the real one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from carelm.core.errors import ConfigError, InputError, PolicyError
from carelm.generate.backends import ExtractiveBackend
from carelm.generate.reports import check_template, load_template
from carelm.generate.summary_model import PatientSummary
from carelm.service import summary as summary_service
from carelm.service.context import Context
from tests.test_summary import prepared_settings

pytestmark = pytest.mark.slow  # reads the store filled by tests.test_summary.prepared_settings

@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Iterator[Context]:
    ctx = Context(prepared_settings(tmp_path_factory), actor="test")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def summary(filled: Context) -> PatientSummary:
    return summary_service.summarize_patient(filled, "QM-4471")


class FixedReply:
    """A backend that answers every section with ``reply(section text)``."""

    external = False

    def __init__(self, name, reply):
        self.name, self.reply, self.calls = name, reply, 0

    def complete(self, messages, *, max_tokens=256, temperature=0.0):
        self.calls += 1
        return self.reply(messages[-1]["content"].split("\n", 1)[1])


class Refusing:
    name, external = "refusing", True

    def complete(self, messages, *, max_tokens=256, temperature=0.0):
        raise PolicyError("identifiers found", location="messages")


def markers(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"\[(\d+)\]", text)}


@pytest.mark.parametrize("kind", ["discharge", "referral"])
def test_every_statement_is_cited_and_every_marker_is_a_source(filled, summary, kind):
    report = summary_service.make_report(filled, summary, kind)
    body = report.to_dict()
    statements = [st for section in body["sections"] for st in section["statements"]]
    assert statements and all(st["markers"] for st in statements)
    sources = {source["marker"] for source in body["sources"]}
    assert markers("\n".join(s["text"] for s in body["sections"])) == sources
    for source in body["sources"]:
        if source["citation"]["type"] == "span":
            stored = filled.store.records.stored_note(source["citation"]["document_id"], include_text=False)
            cited = source["citation"]
            assert stored.deid_text[cited["start"]:cited["end"]] == cited["quote"]
    sections = {section["id"]: section["text"] for section in body["sections"]}
    assert "Penicillin (rash)" in sections["allergies"] and "Peanut" in sections["allergies"]
    assert "No chest pain" in sections["negatives"] and "albuterol" in sections["medications"]
    assert body["text"].startswith(f"# {report.title}")


def test_the_referral_reason_comes_from_the_latest_note(filled, summary):
    report = summary_service.make_report(filled, summary, "referral")
    reason = next(s for s in report.sections if s.id == "reason")
    assert [st.text for st in reason.statements] == ["bronchitis (J40) (present)", "pneumonia (uncertain)"]
    history = next(s for s in report.sections if s.id == "history")
    assert "diabetes (family history)" in history.text and "asthma" in history.text.lower()


def test_a_backend_adding_facts_is_rejected_and_the_template_text_kept(filled, summary):
    def adds_a_drug_and_a_diagnosis(text: str) -> str:
        return re.sub("(?i)albuterol:", "albuterol and rivaroxaban 20 mg:", text) + " Also pneumonia."

    liar = FixedReply("liar", adds_a_drug_and_a_diagnosis)
    report = summary_service.make_report(filled, summary, "discharge", polish=True, backend=liar)
    medications = next(s for s in report.sections if s.id == "medications")
    assert medications.polish["status"] == "rejected" and medications.text == medications.template_text
    reasons = " | ".join(medications.polish["reasons"])
    assert "'rivaroxaban' is not in the data" in reasons and "number 20 is not in the data" in reasons
    assert "'pneumonia' is not in the data" in reasons
    assert "rivaroxaban" not in "\n".join(s.text for s in report.sections)
    assert "template text kept: " in report.markdown()
    assert liar.calls == sum(1 for s in report.sections if s.statements)


def test_a_faithful_rewrite_is_accepted_and_a_flipped_negation_is_not(filled, summary):
    def prose(text: str) -> str:  # the same statements as one sentence, markers kept
        return "; ".join(line.removeprefix("- ") for line in text.splitlines()) + "."

    report = summary_service.make_report(filled, summary, "discharge", polish=True, backend=FixedReply("ok", prose))
    diagnoses = next(s for s in report.sections if s.id == "diagnoses")
    assert diagnoses.polish == {"status": "accepted", "reasons": [], "backend": "ok"}
    assert diagnoses.text != diagnoses.template_text and markers(diagnoses.text) == markers(diagnoses.template_text)

    flipped = FixedReply("flip", lambda text: text.replace("No chest pain", "Chest pain"))
    report = summary_service.make_report(filled, summary, "discharge", polish=True, backend=flipped)
    negatives = next(s for s in report.sections if s.id == "negatives")
    assert negatives.polish["status"] == "rejected"
    assert "'Chest pain' is affirmed, unlike the data" in negatives.polish["reasons"]


def test_a_refused_call_keeps_the_template_and_says_why(filled, summary):
    report = summary_service.make_report(filled, summary, "referral", polish=True, backend=Refusing())
    assert all(s.polish["status"] in ("failed", "skipped") for s in report.sections)
    assert all(s.text == s.template_text for s in report.sections)
    assert "policy_refused: identifiers found" in report.markdown()


def test_the_extractive_backend_never_adds_an_unsupported_fact(filled, summary):
    report = summary_service.make_report(filled, summary, "discharge", polish=True, backend=ExtractiveBackend())
    check = summary_service.polish_check()
    for section in report.sections:
        assert section.polish["status"] in ("accepted", "rejected", "skipped")
        if section.polish["status"] == "accepted":
            assert check.unsupported(section.template_text, section.text) == []
        else:
            assert section.text == section.template_text


@pytest.mark.parametrize(("polished", "expected"), [
    ("Cough [1] and fever [2].", []),
    ("Cough [1].", ["citation marker(s) [2] dropped"]),
    ("Cough [1] and fever [2] [7].", ["unknown citation marker [7]"]),
    ("Cough for 5 days [1] and fever [2].", ["number 5 is not in the data"]),
    ("Cough [1], fever [2] and wheezing.", ["'wheezing' is not in the data"]),
    ("No cough [1]. Fever [2].", ["'cough' is denied, unlike the data"]),
    ("Cough [1] and fever [2]; given zanubrutinib.", ["'zanubrutinib' is not in the data"]),
    ("Cough [1] and fever [2] (J18.9).", ["code J18.9 is not in the data"]),
])
def test_polish_check_table(polished, expected):
    check = summary_service.polish_check()
    assert check.unsupported("- cough [1]\n- fever [2]", polished) == expected


def test_templates_reject_unknown_keys_and_placeholders(tmp_path):
    template = load_template("discharge")
    template["sections"][0]["line"] = "{term} {dose}"
    with pytest.raises(ConfigError, match="dose"):
        check_template(template, "t")
    template = load_template("referral")
    template["sections"][0]["colour"] = "red"
    with pytest.raises(ConfigError, match="colour"):
        check_template(template, "t")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**load_template("discharge"), "sections": [{"id": "x"}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="a section needs"):
        load_template("custom", path)
    with pytest.raises(InputError, match="accepted: discharge, referral"):
        load_template("letter")
