"""Retention policies: the policy file's schema, and applying it to a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from carelm.core.errors import ConfigError, NotFoundError
from carelm.core.pipeline import Pipeline
from carelm.lifecycle.retention import apply_plan, plan_retention
from carelm.lifecycle.retention_policy import RetentionRule, load_policy, parse_policy
from carelm.retrieval.catalog import CACHE, records_folder
from carelm.service import lifecycle
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import process_notes
from carelm.store.models import AnnotationRow, RecordRow

AS_OF = datetime(2024, 6, 1)
STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1"]
POLICY_TOML = """
version = 1
[default]
purge_raw_after_days = 365
age_from = "authored"

[kinds.discharge_summary]
purge_raw_after_days = 30
delete_after_days = 1000

[kinds.radiology_report]
purge_raw_after_days = "never"
"""
# (source id, kind, date, record): ages are judged at AS_OF from the note's date.
NOTES = [
    ("ds-old", "discharge_summary", "2020-01-10", "enc-1"),  # past 1000 days: deleted, and its record with it
    ("ds-old2", "discharge_summary", "2020-02-01", "enc-2"),  # deleted; its record keeps pn-recent
    ("pn-recent", "progress_note", "2024-01-01", "enc-2"),  # 152 days: nothing due
    ("ds-mid", "discharge_summary", "2024-03-01", "enc-3"),  # past 30 days: raw text purged
    ("ds-new", "discharge_summary", "2024-05-20", "enc-4"),  # 12 days: nothing due
    ("pn-old", "progress_note", "2023-01-05", "enc-5"),  # past 365 days (the default): raw text purged
    ("rr-old", "radiology_report", "2019-05-05", "enc-6"),  # its kind never purges and inherits no deletion
]
PENDING = ("pn-pending", "progress_note", "2022-02-02", "enc-7")  # due, but never de-identified


def note_object(source_id: str, kind: str, date: str, record: str) -> dict:
    return {"id": source_id, "patient": {"id": "MRN-RT-5521", "name": "Perpetua Vellacourt"}, "kind": kind,
            "date": date, "record": record,
            "text": f"HPI:\nPerpetua Vellacourt, note {source_id}, reports cough and wheeze.\nPLAN:\nInhaler."}


def ingest(ctx: Context, notes) -> dict[str, str]:
    ids = {}
    for note in notes:
        report = ingest_payload(ctx, note_object(*note))
        ids[note[0]] = ctx.store.records.get_record(report.record_ids[0], include_text=False).notes[-1].id
    return ids


@pytest.fixture
def store_with_notes(ctx: Context, tmp_path: Path):
    ids = ingest(ctx, NOTES)
    assert process_notes(ctx, Pipeline.from_names(STAGES)).notes_done == len(NOTES)
    ids |= ingest(ctx, [PENDING])
    records = {n[0]: ctx.store.records.stored_note(ids[n[0]], include_text=False).record_id for n in (*NOTES, PENDING)}
    model = ctx.store.models.register("lm-retention", "lm", str(tmp_path / "lm"), record_ids=sorted(set(
        records.values())))
    untouched = ctx.store.models.register("lm-recent", "lm", str(tmp_path / "lm2"), record_ids=[records["ds-new"]])
    policy = tmp_path / "retention.toml"
    policy.write_text(POLICY_TOML, encoding="utf-8")
    return ctx, ids, records, policy, model, untouched


def annotation_count(ctx: Context, note_id: str) -> int:
    with ctx.store.sessions() as session:
        return session.scalar(select(func.count()).select_from(AnnotationRow).where(AnnotationRow.note_id == note_id))


def test_dry_run_reports_what_is_due_and_changes_nothing(store_with_notes):
    ctx, ids, records, policy, model, _ = store_with_notes
    report = lifecycle.run_retention(ctx, policy=policy, dry_run=True, as_of=AS_OF)
    assert report["by_kind"] == {
        "discharge_summary": {"raw_purged": 1, "notes_deleted": 2, "awaiting_deid": 0},
        "progress_note": {"raw_purged": 1, "notes_deleted": 0, "awaiting_deid": 1},
    }
    assert report["ids"] == {"raw_purged": sorted([ids["ds-mid"], ids["pn-old"]]),
                             "notes_deleted": sorted([ids["ds-old"], ids["ds-old2"]]),
                             "records_deleted": [records["ds-old"]], "awaiting_deid": [ids["pn-pending"]]}
    tables = report["tables"]
    assert tables["notes"] == 2 and tables["records"] == 1 and tables["notes.raw_text_enc"] == 2
    assert tables["annotations"] == annotation_count(ctx, ids["ds-old"]) + annotation_count(ctx, ids["ds-old2"]) > 0
    assert [m["name"] for m in report["models_needing_retraining"]] == ["lm-retention"]
    assert ctx.store.records.stored_note(ids["ds-mid"], include_text=True).text is not None
    assert ctx.store.records.stored_note(ids["ds-old"], include_text=False).status == "processed"
    assert ctx.store.models.get_by_id(model.id).status == "ready"
    assert report["policy"]["kinds"]["radiology_report"]["purge_raw_after_days"] is None
    entry = ctx.store.audit.entries(limit=5)[0]
    assert entry["action"] == "retention.dry_run" and entry["id"] == report["audit_event_id"]
    assert "Vellacourt" not in json.dumps(report) and "Vellacourt" not in json.dumps(entry["details"])


def test_run_purges_and_deletes_then_a_second_run_finds_nothing(store_with_notes):
    ctx, ids, records, policy, model, untouched = store_with_notes
    folder = records_folder(ctx.settings.data_dir)
    indexed = set(np.asarray(CACHE.get(folder).column("note_id")))
    assert {ids["ds-old"], ids["ds-old2"], ids["ds-mid"]} <= indexed
    preview = lifecycle.run_retention(ctx, policy=policy, dry_run=True, as_of=AS_OF)

    report = lifecycle.run_retention(ctx, policy=policy, as_of=AS_OF)

    assert not report["dry_run"] and report["ids"] == preview["ids"]
    passages = report["tables"].pop("search_index_passages")
    assert report["tables"] == preview["tables"] and passages > 0
    for gone in ("ds-old", "ds-old2"):
        with pytest.raises(NotFoundError):
            ctx.store.records.stored_note(ids[gone], include_text=False)
        assert annotation_count(ctx, ids[gone]) == 0
    with ctx.store.sessions() as session:
        assert session.get(RecordRow, records["ds-old"]) is None
        assert session.get(RecordRow, records["ds-old2"]) is not None  # still holds pn-recent
    purged = ctx.store.records.stored_note(ids["ds-mid"], include_text=True)
    assert purged.text is None and purged.status == "raw_purged" and "cough" in purged.deid_text
    assert purged.layers["sections"] and annotation_count(ctx, ids["ds-mid"]) > 0
    for kept in ("pn-pending", "rr-old", "ds-new", "pn-recent"):
        assert ctx.store.records.stored_note(ids[kept], include_text=True).text is not None, kept
    remaining = set(np.asarray(CACHE.get(folder).column("note_id")))
    assert not {ids["ds-old"], ids["ds-old2"]} & remaining and ids["ds-mid"] in remaining
    assert ctx.store.models.get_by_id(model.id).status == "needs_retraining"
    assert ctx.store.models.get_by_id(untouched.id).status == "ready"

    again = lifecycle.run_retention(ctx, policy=policy, as_of=AS_OF)
    assert again["nothing_due"] and again["tables"] == {}
    assert again["by_kind"] == {"progress_note": {"raw_purged": 0, "notes_deleted": 0, "awaiting_deid": 1}}
    actions = [e["action"] for e in ctx.store.audit.entries(limit=10)]
    assert [a for a in actions if a.startswith("retention.")][:3] == ["retention.run", "retention.run",
                                                                       "retention.dry_run"]
    assert actions.index("model.status") > actions.index("retention.run")  # flagged before the rows went


def test_batches_are_whole_records_and_require_deid_can_be_lifted(store_with_notes):
    ctx, ids, records, _, _, _ = store_with_notes
    policy = parse_policy({"version": 1, "default": {"purge_raw_after_days": 0, "require_deid": False},
                           "kinds": {"discharge_summary": {"delete_after_days": 0}}})
    plan = plan_retention(ctx.store.sessions, policy)  # ages from ingest, judged now: every note is due
    assert ids["pn-pending"] in plan.purged_note_ids and not plan.awaiting_deid
    batches: list[int] = []
    counts = apply_plan(ctx.store.sessions, plan, batch_size=1, on_batch=batches.append)
    purged, deleted = len(plan.purged_note_ids), len(plan.deleted_note_ids)
    assert batches == [1] * purged + [1] * deleted  # one transaction per note purged, per record deleted from
    assert counts["notes"] == deleted == 4 and counts["notes.raw_text_enc"] == purged == 4
    assert ctx.store.records.stored_note(ids["pn-pending"], include_text=True).text is None
    assert plan_retention(ctx.store.sessions, policy).deleted_note_ids == []


# --- the policy file ---------------------------------------------------------------------------
def test_json_and_toml_policies_read_alike(tmp_path: Path):
    toml = tmp_path / "p.toml"
    toml.write_text(POLICY_TOML, encoding="utf-8")
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps({"version": 1, "default": {"purge_raw_after_days": 365, "age_from": "authored"},
                                   "kinds": {"discharge_summary": {"purge_raw_after_days": 30,
                                                                   "delete_after_days": 1000},
                                             "radiology_report": {"purge_raw_after_days": None}}}), encoding="utf-8")
    first, second = load_policy(toml), load_policy(as_json)
    assert first.kinds == second.kinds and first.default == second.default
    assert first.rule_for("discharge_summary") == RetentionRule(30, 1000, "authored", True)
    assert first.rule_for("radiology_report") == RetentionRule(None, None, "authored", True)
    assert first.rule_for("nursing_note") == first.default and len(first.digest) == 64


@pytest.mark.parametrize(("policy", "message", "where"), [
    ({"default": {"purge_raw_after_days": 1}}, "missing key 'version'", ""),
    ({"version": 2, "default": {}}, "unsupported version 2", "#version"),
    ({"version": 1, "defaults": {}}, "unknown key 'defaults'; accepted keys: version, default, kinds", ""),
    ({"version": 1, "default": {"purge_after": 3}}, "unknown key 'purge_after'", "#default"),
    ({"version": 1, "default": {"purge_raw_after_days": -1}}, "whole number of days", "purge_raw_after_days"),
    ({"version": 1, "default": {"delete_after_days": "soon"}}, "or \"never\"", "delete_after_days"),
    ({"version": 1, "default": {"purge_raw_after_days": True}}, "whole number of days", "purge_raw_after_days"),
    ({"version": 1, "default": {"age_from": "created"}}, "accepted: ingested, authored", "age_from"),
    ({"version": 1, "default": {"require_deid": "yes"}}, "true or false", "require_deid"),
    ({"version": 1, "kinds": {"Discharge Summary": {}}}, "lower_snake_case", "#kinds.Discharge Summary"),
    ({"version": 1, "kinds": []}, "map note kinds to rules", "#kinds"),
    ({"version": 1}, "no rule", ""),
    ([1], "must be an object", ""),
])
def test_bad_policies_are_refused_with_the_place_and_what_is_accepted(policy, message, where):
    with pytest.raises(ConfigError) as raised:
        parse_policy(policy, "policy.json")
    assert message in raised.value.message
    assert (raised.value.location or "").startswith("policy.json") and where in raised.value.location


@pytest.mark.parametrize(("name", "content", "message"), [
    ("p.json", '{"version": 1,\n "default": }', "invalid JSON"),
    ("p.toml", "version = = 1", "invalid TOML"),
    ("p.yaml", "version: 1", "accepted: .json, .toml"),
])
def test_unreadable_policy_files_name_the_problem(tmp_path: Path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_policy(path)
    with pytest.raises(ConfigError, match="not found"):
        load_policy(tmp_path / "missing.toml")


def test_cli_runs_the_policy_and_needs_one(sqlite_ctx: Context, tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from carelm.cli.main import app

    ingest(sqlite_ctx, NOTES[:2])
    settings = sqlite_ctx.settings
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("CARELM_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("CARELM_RETENTION_POLICY", raising=False)
    db = ["--db", settings.resolved_database_url]
    runner = CliRunner()
    missing = runner.invoke(app, ["lifecycle", "run", "--dry-run", *db])
    assert missing.exit_code == 2 and "CARELM_RETENTION_POLICY" in missing.output
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"version": 1, "kinds": {"discharge_summary": {"delete_after_days": 365,
                                                                               "age_from": "authored"}}}))
    monkeypatch.setenv("CARELM_RETENTION_POLICY", str(policy))
    result = runner.invoke(app, ["lifecycle", "run", "--dry-run", "--as-of", "2024-06-01", "--json", *db])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["dry_run"] and report["by_kind"]["discharge_summary"]["notes_deleted"] == 2
    result = runner.invoke(app, ["lifecycle", "run", "--as-of", "2024-06-01", *db])
    assert result.exit_code == 0, result.output
    assert "notes 2" in result.output and "records 2" in result.output
    assert runner.invoke(app, ["lifecycle", "run", "--as-of", "June", *db]).exit_code == 2


def test_reprocessing_everything_leaves_raw_purged_notes_alone(settings) -> None:
    from sqlalchemy import update as sql_update

    from carelm.core.pipeline import Pipeline
    from carelm.service import process
    from carelm.service.context import Context
    from carelm.store.models import NoteRow
    from tests.test_access_service import STAGES, store_made_up_note

    ids = store_made_up_note(settings)
    ctx = Context(settings, actor="test")
    try:
        with ctx.store.sessions.begin() as session:
            session.execute(sql_update(NoteRow).where(NoteRow.id == ids["note_id"])
                            .values(status="raw_purged", raw_text_enc=None))
        before = ctx.store.records.get_record(ids["record_id"], include_text=False).notes[0].deid_text
        assert process.pending_count(ctx, reprocess=True) == 0
        assert process.process_notes(ctx, Pipeline.from_names(STAGES), reprocess=True).notes_done == 0
        note = ctx.store.records.get_record(ids["record_id"], include_text=False).notes[0]
        assert note.deid_text == before and before
    finally:
        ctx.close()
