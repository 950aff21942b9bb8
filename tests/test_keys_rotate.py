"""Encryption key rotation against SQLite and a real PostgreSQL server: interrupted and resumed rotations,
reads during a rotation, the old key decrypting nothing afterwards, stable lookups, refusals of unsafe setups,
and ``rotate_command`` driven through Typer's runner."""

from __future__ import annotations

import base64
import json
import os
import threading

import pytest
import typer
from sqlalchemy import select, text
from typer.testing import CliRunner

from carelm.cli.audit import rotate_command
from carelm.core.errors import ConfigError, CryptoError
from carelm.core.settings import Settings, decode_key, get_settings
from carelm.core.types import Note, Patient, Record, Span
from carelm.service import audit as audit_service
from carelm.service import keys as keys_service
from carelm.service.context import Context
from carelm.service.deid import reidentify_note
from carelm.store import keyring
from carelm.store.crypto import TextCipher
from carelm.store.models import NoteRow
from carelm.store.store import Store
from tests.conftest import TEST_KEY

OLD = TEST_KEY
NEW = base64.b64encode(bytes(range(100, 132))).decode()
OTHER = base64.b64encode(bytes(range(200, 232))).decode()
PATIENTS, NOTES_EACH = 3, 2


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C between two batches."""


def settings_like(base: Settings, current: str, previous: str | None = None) -> Settings:
    return get_settings(profile="test", data_dir=base.data_dir, database_url=base.database_url, secret_key=current,
                        previous_keys=previous)


def make_records() -> list[Record]:
    return [
        Record(patient=Patient(f"MRN-{p:05d}", name=f"Jane Doe{p}"), external_id=f"enc-{p}", source="unit-test",
               notes=[Note(text=f"Visit {i}: seen by Dr Alice Stone with patient {p}. Cough, no fever.",
                           kind="progress_note") for i in range(NOTES_EACH)])
        for p in range(PATIENTS)
    ]


def seed(store: Store) -> dict:
    """Store the records and a surrogate map per patient; what each encrypted value must decrypt to."""
    store.records.save_records(make_records())
    notes = [note for batch in store.records.iter_notes(None, 100) for note in batch]
    for note in notes:
        start, end = note.text.index("Alice"), note.text.index("Alice") + len("Alice Stone")
        surrogate = f"Bob Gray{note.id[:4]}"
        note.layers["phi"] = [Span(start, end, "NAME", {"replacement": surrogate, "new_start": start,
                                                        "new_end": start + len(surrogate)})]
        note.views["deid"] = note.text[:start] + surrogate + note.text[end:]
    store.records.save_processed(notes, ["phi"], None)
    return snapshot(store)


def snapshot(store: Store) -> dict:
    with store.sessions() as session:
        note_ids = list(session.scalars(select(NoteRow.id).order_by(NoteRow.id)))
        patient_ids = sorted({n.patient_id for n in session.scalars(select(NoteRow))})
    return {
        "notes": {i: store.records.stored_note(i, include_text=True).text for i in note_ids},
        "maps": {p: store.records.surrogate_map(p) for p in patient_ids},
        "identities": {p: store.records.patient_identity(p) for p in patient_ids},
    }


def all_ciphertexts(store: Store) -> list[tuple[str, bytes]]:
    found = []
    with store.sessions() as session:
        for col in keyring.ENCRYPTED_COLUMNS:
            for key, blob in session.execute(select(col.key, col.column).where(col.column.is_not(None))):
                found.append((col.context(key), blob))
    return found


def test_interrupted_rotation_resumes_and_leaves_only_the_new_key(backend_settings):
    old_ctx = Context(settings_like(backend_settings, OLD), actor="test")
    original = seed(old_ctx.store)
    surrogate_secret = old_ctx.store.cipher.derived_secret("surrogates")
    old_ctx.close()
    total = len(original["notes"]) + 2 * PATIENTS + 2  # notes, identities, maps, the store's key material

    ctx = Context(settings_like(backend_settings, NEW, previous=OLD), actor="ops")
    batches = []

    def crash_after_three(batch: keyring.BatchResult) -> None:
        batches.append(batch)
        if len(batches) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        keys_service.rotate_keys(ctx, batch_size=2, on_batch=crash_after_three)
    pending = keys_service.key_status(ctx)["pending"]
    assert 0 < sum(pending.values()) == total - sum(b.rotated for b in batches) < total
    assert snapshot(ctx.store) == original  # reads work in the middle: each row's key version is tried

    report = keys_service.rotate_keys(ctx, batch_size=2)
    assert report.status == "complete" and sum(report.rotated.values()) == sum(pending.values())
    assert report.remaining == {col.name: 0 for col in keyring.ENCRYPTED_COLUMNS} and report.failed == []
    events = [e for e in reversed(ctx.store.audit.entries(limit=50)) if e["action"].startswith("keys.rotate")]
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("keys.rotate.start", "ok"), ("keys.rotate", "error"), ("keys.rotate.start", "ok"), ("keys.rotate", "ok")]
    assert events[1]["details"]["error"] == "Interrupted" and events[1]["details"]["batches"] == 3
    assert events[3]["details"]["rotated"] == report.rotated and events[3]["target_id"] == report.key_version
    assert audit_service.verify_log(ctx).ok
    ctx.close()

    new_only = Context(settings_like(backend_settings, NEW), actor="test")
    assert snapshot(new_only.store) == original
    assert new_only.store.cipher.derived_secret("surrogates") == surrogate_secret
    again = new_only.store.records.save_records(make_records())  # lookups survive: re-ingest stores nothing new
    assert sum(r.notes_added for r in again) == 0
    old_cipher = TextCipher(decode_key(OLD))
    for context, blob in all_ciphertexts(new_only.store):
        with pytest.raises(CryptoError):
            old_cipher.decrypt(blob, context)
    assert set(keys_service.key_status(new_only)["columns"]["notes.raw_text_enc"]) == {report.key_version}
    new_only.close()
    with pytest.raises(ConfigError):
        Store.open(settings_like(backend_settings, OLD))


def test_max_batches_pauses_and_a_second_run_finishes(backend_settings):
    old_ctx = Context(settings_like(backend_settings, OLD), actor="test")
    original = seed(old_ctx.store)
    old_ctx.close()
    ctx = Context(settings_like(backend_settings, NEW, previous=OLD), actor="test")
    paused = keys_service.rotate_keys(ctx, batch_size=1, max_batches=2)
    assert paused.status == "paused" and paused.batches == 2 and sum(paused.rotated.values()) == 2
    assert sum(paused.remaining.values()) == len(original["notes"]) + 2 * PATIENTS
    done = keys_service.rotate_keys(ctx, batch_size=1)
    assert done.status == "complete" and sum(done.rotated.values()) == sum(paused.remaining.values())
    assert keys_service.rotate_keys(ctx).batches == 0  # nothing left: a no-op
    ctx.close()
    store = Store.open(settings_like(backend_settings, NEW))
    assert snapshot(store) == original
    store.close()


def test_offline_rotation_to_a_given_new_key(backend_settings):
    ctx = Context(settings_like(backend_settings, OLD), actor="test")
    original = seed(ctx.store)
    report = keys_service.rotate_keys(ctx, decode_key(NEW), batch_size=3)
    assert report.status == "complete" and report.key_version == TextCipher(decode_key(NEW)).key_version
    ctx.close()
    store = Store.open(settings_like(backend_settings, NEW))
    assert snapshot(store) == original
    store.close()
    with pytest.raises(ConfigError):
        Store.open(settings_like(backend_settings, OLD))


def test_values_no_key_decrypts_or_that_were_moved_are_reported_not_laundered(backend_settings):
    ctx = Context(settings_like(backend_settings, OLD), actor="test")
    original = seed(ctx.store)
    first, second, stranger = sorted(original["notes"])[:3]
    foreign = TextCipher(decode_key(OTHER)).encrypt("written with a key nobody configured", f"note:{stranger}")
    with ctx.store.engine.begin() as conn:
        blobs = dict(conn.execute(text("SELECT id, raw_text_enc FROM notes WHERE id IN (:a, :b)"),
                                  {"a": first, "b": second}).all())
        for target, source in ((first, second), (second, first)):  # swap two rows' ciphertexts
            conn.execute(text("UPDATE notes SET raw_text_enc = :v WHERE id = :id"), {"v": blobs[source], "id": target})
        conn.execute(text("UPDATE notes SET raw_text_enc = :v WHERE id = :id"), {"v": foreign, "id": stranger})
    ctx.close()
    ctx = Context(settings_like(backend_settings, NEW, previous=OLD), actor="test")
    report = keys_service.rotate_keys(ctx, batch_size=2)
    assert report.status == "incomplete" and report.remaining["notes.raw_text_enc"] == 3
    failed = {f["id"]: f for f in report.failed}
    assert set(failed) == {first, second, stranger}
    assert "authentication" in failed[first]["reason"] and "authentication" in failed[second]["reason"]
    assert failed[stranger]["key_version"] == TextCipher(decode_key(OTHER)).key_version
    assert "not configured" in failed[stranger]["reason"]
    assert report.rotated["notes.raw_text_enc"] == len(original["notes"]) - 3
    assert ctx.store.audit.entries(limit=1)[0]["outcome"] == "incomplete"
    with pytest.raises(CryptoError):
        ctx.store.records.stored_note(first, include_text=True)
    ctx.close()


def test_lookup_secrets_are_recovered_only_from_the_key_that_made_them(backend_settings):
    ctx = Context(settings_like(backend_settings, OLD), actor="test")
    seed(ctx.store)
    ctx.close()
    ctx = Context(settings_like(backend_settings, NEW, previous=OLD), actor="test")
    assert keys_service.rotate_keys(ctx).status == "complete"
    with ctx.store.engine.begin() as conn:  # as if the store had been created before key material existed
        conn.execute(text("DELETE FROM key_material"))
    ctx.close()
    with pytest.raises(ConfigError, match="cannot open this database"):
        Store.open(settings_like(backend_settings, OLD))
    with pytest.raises(ConfigError, match="lookup hashes"):  # NEW decrypts, but OLD made the lookup hashes
        Store.open(settings_like(backend_settings, NEW))
    store = Store.open(settings_like(backend_settings, NEW, previous=OLD))  # found among the configured keys
    assert sum(r.notes_added for r in store.records.save_records(make_records())) == 0
    store.close()


def test_reidentification_reads_either_key_and_a_failed_attempt_is_audited(backend_settings):
    ctx = Context(settings_like(backend_settings, OLD), actor="test")
    original = seed(ctx.store)
    ctx.close()
    note_id = sorted(original["notes"])[0]
    ctx = Context(settings_like(backend_settings, NEW, previous=OLD), actor="test")
    keys_service.rotate_keys(ctx, batch_size=1, max_batches=3)  # key material and one identity; maps still OLD
    assert reidentify_note(ctx, note_id, "care team request")["text"] == original["notes"][note_id]
    ctx.close()
    ctx = Context(settings_like(backend_settings, NEW), actor="test")
    with pytest.raises(CryptoError):
        reidentify_note(ctx, note_id, "care team request")
    last = ctx.store.audit.entries(limit=1)[0]
    assert (last["action"], last["target_id"], last["outcome"]) == ("reidentify", note_id, "error")
    ctx.close()


def test_processes_opening_a_database_at_once_agree_on_its_key_material(backend_settings):
    settings = settings_like(backend_settings, OLD)
    first = Store.open(settings)
    with first.engine.begin() as conn:
        conn.execute(text("DELETE FROM key_material"))
    first.close()
    opened, errors, start = [], [], threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            opened.append(Store.open(settings, migrate=False))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({s.database_id for s in opened}) == 1
    assert len({s.cipher.keyed_hash("patient", "MRN-1") for s in opened}) == 1
    for store in opened:
        store.close()


# --- settings --------------------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch):
    for name in ("CARELM_PROFILE", "CARELM_SECRET_KEY", "CARELM_KEY_FILE", "CARELM_PREVIOUS_KEYS",
                 "CARELM_PREVIOUS_KEYS_FILE", "CARELM_DATA_DIR", "CARELM_DATABASE_URL", "CARELM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def keys_file(path, lines, mode):
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(("setup", "expected"), [
    ({"previous_keys": f"{OLD},{OTHER}"}, [OLD, OTHER]),
    ({"previous_keys": f" {OLD} , {NEW} , {OLD} "}, [OLD]),  # the current key and repeats are dropped
    ({"previous_keys": "an old passphrase"}, ["an old passphrase"]),
    ({"previous_keys": f"{OLD},,{OTHER}"}, ConfigError),
    ({"previous_keys": ""}, ConfigError),
    ({"file": (["# rotated 2024-05", OLD, "", OTHER], 0o600)}, [OLD, OTHER]),
    ({"file": ([OLD], 0o644)}, ConfigError),
    ({"file": ([OLD], 0o640)}, ConfigError),
    ({"file": ([OLD], 0o644), "profile": "dev"}, [OLD]),
    ({"previous_keys_file": "missing.keys"}, ConfigError),
])
def test_previous_keys_are_parsed_and_unsafe_setups_refused(tmp_path, clean_env, setup, expected):
    options = {"profile": setup.get("profile", "prod"), "data_dir": tmp_path, "secret_key": NEW}
    if "previous_keys" in setup:
        options["previous_keys"] = setup["previous_keys"]
    if "previous_keys_file" in setup:
        options["previous_keys_file"] = tmp_path / setup["previous_keys_file"]
    if "file" in setup:
        keys_file(tmp_path / "previous.keys", *setup["file"])  # the default place, picked up when present
    settings = get_settings(**options)
    if expected is ConfigError:
        with pytest.raises(ConfigError):
            _ = settings.previous_master_keys
    else:
        assert settings.previous_master_keys == [decode_key(k) for k in expected]


# --- the command ---------------------------------------------------------------------------------
def rotate_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """The keys group, as the command line registers it."""

    app.command("rotate")(rotate_command)
    return app


def test_rotate_command_pauses_resumes_and_reports(tmp_path, monkeypatch, clean_env):
    monkeypatch.setenv("CARELM_PROFILE", "test")
    monkeypatch.setenv("CARELM_DATA_DIR", str(tmp_path / "data"))
    db = f"sqlite:///{tmp_path / 'keys.db'}"
    base = get_settings(profile="test", data_dir=tmp_path / "data", database_url=db, secret_key=OLD)
    store = Store.open(base)
    original = seed(store)
    store.close()
    monkeypatch.setenv("CARELM_SECRET_KEY", NEW)
    monkeypatch.setenv("CARELM_PREVIOUS_KEYS", OLD)
    runner, app = CliRunner(), rotate_app()
    planned = runner.invoke(app, ["rotate", "--db", db, "--dry-run"])
    assert planned.exit_code == 0, planned.output
    assert sum(json.loads(planned.stdout)["pending"].values()) == len(original["notes"]) + 2 * PATIENTS + 2
    paused = runner.invoke(app, ["rotate", "--db", db, "--batch-size", "1", "--max-batches", "2"])
    assert paused.exit_code == 0, paused.output
    assert "2 value(s) re-encrypted in 2 batch(es); paused" in paused.output
    done = runner.invoke(app, ["rotate", "--db", db, "--json"])
    assert done.exit_code == 0 and json.loads(done.stdout)["status"] == "complete"
    monkeypatch.delenv("CARELM_PREVIOUS_KEYS")
    store = Store.open(settings_like(base, NEW))
    assert snapshot(store) == original
    store.close()

    loose = keys_file(tmp_path / "next.key", [OTHER], 0o644)
    refused = runner.invoke(app, ["rotate", "--db", db, "--new-key-file", str(loose)])
    assert refused.exit_code == 2 and "chmod 600" in refused.output
    os.chmod(loose, 0o600)
    offline = runner.invoke(app, ["rotate", "--db", db, "--new-key-file", str(loose)])
    assert offline.exit_code == 0 and "configure the new key as CARELM_SECRET_KEY" in offline.output
    store = Store.open(settings_like(base, OTHER))
    assert snapshot(store) == original
    store.close()
