"""Compliance report: completeness, consistency, residual PHI and duplicates over a real, processed store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carelm.core.errors import ConfigError, InputError
from carelm.core.pipeline import Pipeline
from carelm.core.types import Patient, Record, RecordItem
from carelm.lifecycle.compliance_duplicates import find_duplicates
from carelm.lifecycle.compliance_rules import load_rules
from carelm.service import lifecycle
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes

STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1", "carelm.terms.v1",
          "carelm.context.v1"]
PATIENT = {"id": "MRN-CP-1001", "name": "Odalys Brennecke"}
COURSE = ("Admitted for an asthma exacerbation and treated with nebulised bronchodilators and oral steroids over "
          "three days, with steady improvement of wheeze and oxygen saturation on room air before discharge home.")
NOTES = {
    # complete, but allergic to a drug it also discharges on
    "conflict": {"kind": "discharge_summary", "patient": PATIENT,
                 "text": f"HOSPITAL COURSE:\nOdalys Brennecke: {COURSE}\nALLERGIES:\nAmoxicillin (rash).\n"
                         "DISCHARGE MEDICATIONS:\nAmoxicillin 500 mg three times daily.\nFOLLOW UP:\nClinic in two "
                         "weeks."},
    # lacks discharge medications and both follow-up sections; a negated allergy is no conflict
    "incomplete": {"kind": "discharge_summary", "patient": {"id": "MRN-CP-2002", "name": "Tiberius Nakamura"},
                   "text": f"HOSPITAL COURSE:\n{COURSE}\nALLERGIES:\nNo allergy to aspirin.\nMEDICATIONS:\n"
                           "Aspirin 81 mg daily."},
    "radiology": {"kind": "radiology_report", "patient": {"id": "MRN-CP-3003"},
                  "text": "INDICATION:\nCough.\nFINDINGS:\nClear lungs.\nIMPRESSION:\nNo acute disease."},
    # copies of one course under two other patients (exact duplicates once de-identified) and a near copy
    "copy-a": {"kind": "progress_note", "patient": {"id": "MRN-CP-4004"},
               "text": f"ASSESSMENT:\n{COURSE}\nPLAN:\nContinue inhalers."},
    "copy-b": {"kind": "progress_note", "patient": {"id": "MRN-CP-5005"},
               "text": f"ASSESSMENT:\n{COURSE}\nPLAN:\nContinue inhalers."},
    "near": {"kind": "progress_note", "patient": {"id": "MRN-CP-6006"},
             "text": f"ASSESSMENT:\n{COURSE}\nPLAN:\nContinue inhalers and book spirometry."},
}
# de-identified with a threshold that lets a name through: what the residual scan must catch
LEAKY = {"kind": "progress_note", "patient": {"id": "MRN-CP-7007"},
         "text": "HPI:\nSeen today with Dr. Kettleworth about wheeze.\nPLAN:\nRecheck in a week."}
LEAKY_DEID = {"stages": [{"stage": "carelm.normalize.v1"}, {"stage": "carelm.deid.v1", "params": {"threshold": 0.95}}]}


def ingest(ctx: Context, name: str, note: dict) -> str:
    report = ingest_payload(ctx, {"id": name, **note})
    return ctx.store.records.get_record(report.record_ids[0], include_text=False).notes[-1].id


@pytest.fixture
def checked_store(ctx: Context):
    ctx.settings = ctx.settings.model_copy(update={"index_on_process": False})  # the report reads no index
    leaky = ingest(ctx, "leaky", LEAKY)
    process_notes(ctx, Pipeline.from_dict(LEAKY_DEID))  # no section detection ran: completeness cannot judge it
    ids = {name: ingest(ctx, name, note) for name, note in NOTES.items()}
    assert process_notes(ctx, Pipeline.from_names(STAGES)).notes_done == len(NOTES)
    items = [RecordItem(kind="allergy", display="Lisinopril", status="active"),
             RecordItem(kind="medication", display="lisinopril 10 mg tablet", status="active"),
             RecordItem(kind="allergy", display="Warfarin"),
             RecordItem(kind="medication", display="warfarin 5 mg", status="stopped")]
    ctx.store.records.save_records([Record(patient=Patient("MRN-CP-2002"), external_id="items-1", items=items)])
    return ctx, ids | {"leaky": leaky}


def test_report_finds_each_problem_by_id_and_never_shows_text(checked_store):
    ctx, ids = checked_store
    report = lifecycle.compliance_report(ctx)
    assert report["checks"] == ["completeness", "consistency", "residual_phi", "duplicates"]

    completeness = report["completeness"]
    assert completeness["notes"] == [{"note_id": ids["incomplete"], "kind": "discharge_summary",
                                      "missing": ["discharge_medications", "discharge_instructions|follow_up"]}]
    assert completeness["by_kind"]["discharge_summary"]["checked"] == 2
    assert completeness["by_kind"]["radiology_report"] == {"checked": 1, "incomplete": 0, "missing": {}}
    assert completeness["unchecked"] == 1  # the leaky note: processed without section detection

    conflicts = {(c["drug"], c["allergy"][0]["source"]) for c in report["consistency"]["items"]}
    assert conflicts == {("Compound::DB01060", "note"), ("Compound::DB00722", "record_item")}  # amoxicillin, lisinopril
    amoxicillin = next(c for c in report["consistency"]["items"] if c["drug"] == "Compound::DB01060")
    assert amoxicillin["allergy"] == amoxicillin["medication"] == [{"source": "note", "id": ids["conflict"]}]

    residual = report["residual_phi"]
    assert residual["scanned"] == len(ids) and [n["note_id"] for n in residual["notes"]] == [ids["leaky"]]
    leaky = ctx.store.records.stored_note(ids["leaky"], include_text=False).deid_text
    [span] = residual["notes"][0]["spans"]
    assert span["type"] == "NAME" and leaky[span["start"]:span["end"]] == "Kettleworth"

    duplicates = report["duplicates"]
    assert duplicates["exact"] == [sorted([ids["copy-a"], ids["copy-b"]])]
    assert {tuple(p["notes"]) for p in duplicates["near"]} == {
        tuple(sorted([ids["copy-a"], ids["near"]])), tuple(sorted([ids["copy-b"], ids["near"]]))}
    assert all(0.8 <= p["similarity"] < 1 for p in duplicates["near"])

    shown = json.dumps(report)
    for secret in ("Kettleworth", "Brennecke", "Nakamura", "asthma", "MRN-CP"):
        assert secret not in shown
    entry = ctx.store.audit.entries(limit=1)[0]
    assert entry["action"] == "compliance.report" and entry["details"]["checks"]["residual_phi"]["flagged"] == 1


def test_checks_can_be_chosen_and_unknown_ones_are_refused(checked_store, tmp_path: Path):
    ctx, _ = checked_store
    report = lifecycle.compliance_report(ctx, ["duplicates"])
    assert set(report) == {"generated_at", "checks", "totals", "duplicates"}
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "kinds": {"radiology_report": {"delete_after_days": 0}}}))
    ctx.settings = ctx.settings.model_copy(update={"retention_policy": policy})
    overdue = lifecycle.compliance_report(ctx, ["completeness"])["retention"]["overdue_by_kind"]
    assert overdue == {"radiology_report": {"raw_purged": 0, "notes_deleted": 1, "awaiting_deid": 0}}
    with pytest.raises(InputError, match="accepted: completeness, consistency, residual_phi, duplicates"):
        lifecycle.compliance_report(ctx, ["spelling"])


def test_cli_prints_a_summary_and_json(checked_store, monkeypatch):
    from typer.testing import CliRunner

    from carelm.cli.main import app

    ctx, ids = checked_store
    if ctx.store.backend != "sqlite":
        pytest.skip("the command line is exercised once, on SQLite")
    settings = ctx.settings
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("CARELM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    db = ["--db", settings.resolved_database_url]
    result = CliRunner().invoke(app, ["compliance", "report", *db])
    assert result.exit_code == 0, result.output
    assert "1 of 6 note(s) lack a required section" in result.output
    assert "2 allergy/medication conflict(s)" in result.output and "1 exact group(s)" in result.output
    result = CliRunner().invoke(app, ["compliance", "report", "--check", "residual_phi", "--json", *db])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{"):])["residual_phi"]["notes"][0]["note_id"] == ids["leaky"]


# --- duplicates and rules, without a store -----------------------------------------------------
WORDS = " ".join(f"word{i}" for i in range(60))


@pytest.mark.parametrize(("texts", "exact", "near"), [
    ([("a", WORDS), ("b", WORDS.upper())], [["a", "b"]], []),  # case and spacing do not matter
    ([("a", WORDS), ("b", WORDS.replace("word30", "other"))], [], [("a", "b")]),  # one word changed
    ([("a", WORDS), ("b", " ".join(f"term{i}" for i in range(60)))], [], []),
    ([("a", WORDS), ("b", WORDS.replace("word30", "x").replace("word10", "y").replace("word50", "z"))], [], []),
    ([("a", "short note"), ("b", "short note!")], [], []),  # below min_words: no near search
])
def test_duplicates_table(texts, exact, near):
    found = find_duplicates(texts, shingle_words=5, threshold=0.8, min_words=20)
    assert found["exact"] == exact and [tuple(p["notes"]) for p in found["near"]] == near


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["completeness"].update({"discharge_summary": {"required": ["hospital_coarse"]}}), "unknown section"),
    (lambda r: r["completeness"].update({"x": {"required": [[]]}}), "non-empty list of alternatives"),
    (lambda r: r["consistency"].update({"colour": []}), "unknown key 'colour'"),
    (lambda r: r["duplicates"].update({"near_threshold": 1.5}), "near_threshold in (0, 1]"),
    (lambda r: r.update({"version": 3}), "unsupported version 3"),
])
def test_rules_are_validated(tmp_path: Path, change, message):
    rules = json.loads(_shipped_rules())
    change(rules)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_rules(path)
    assert message in raised.value.message and str(path) in raised.value.location


def _shipped_rules() -> str:
    from importlib import resources

    return resources.files("carelm").joinpath("resources", "rules", "compliance.json").read_text(encoding="utf-8")
