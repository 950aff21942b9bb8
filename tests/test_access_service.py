"""Access control in the service layer: the role table, API keys, authentication and audited refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from carelm.core.errors import ConflictError, InputError, NotFoundError, PermissionDenied, Unauthenticated
from carelm.core.pipeline import Pipeline
from carelm.core.settings import Settings, get_settings
from carelm.lifecycle.access import ANONYMOUS, ROLE_PERMISSIONS, Permission, Principal, Role
from carelm.lifecycle.access_keys import digest_matches, key_id_of, make_key
from carelm.service import access, ingest, process
from carelm.service.context import Context
from carelm.store.models import ApiKeyRow, utcnow
from tests.conftest import TEST_KEY

P = Permission

# A made-up patient; these strings must never reach a principal that may not read PHI.
PHI = ("Marisol", "Quenby", "48213377", "617-555-0142")
NOTE = {
    "id": "acc-1", "patient": {"id": "P-acc-77", "name": "Marisol Quenby", "birth_date": "1958-03-14"},
    "kind": "progress_note", "date": "2024-03-02",
    "text": "Patient: Marisol Quenby   MRN: 48213377   Phone: 617-555-0142\n\nHISTORY OF PRESENT ILLNESS:\n"
            "Ms. Quenby reports cough and fever for two days. Denies chest pain.\n\nPLAN:\nChest x-ray. "
            "Call Marisol Quenby at 617-555-0142 with results.\n",
}
STAGES = ["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1", "carelm.terms.v1",
          "carelm.context.v1"]


def store_made_up_note(settings: Settings) -> dict[str, str]:
    """Ingest and de-identify the made-up note; returns its record, note and patient ids."""
    ctx = Context(settings, actor="test")
    try:
        ingest.ingest_payload(ctx, NOTE)
        assert process.process_notes(ctx, Pipeline.from_names(STAGES)).notes_done == 1
        record = ctx.store.records.get_record(ctx.store.records.list_records()[0].id, include_text=False)
        assert record.notes[0].deid_text and not any(s in record.notes[0].deid_text for s in PHI)
        return {"record_id": record.id, "note_id": record.notes[0].id, "patient_id": record.patient_id}
    finally:
        ctx.close()


def acting(ctx: Context, name: str, role: str) -> Context:
    """A context acting for a new principal ``name`` with ``role``."""
    entry = access.add_principal(ctx, name, role)
    return ctx.acting_as(Principal(entry.name, Role(entry.role), entry.id))


def denials(ctx: Context, actor: str) -> list[dict]:
    return [e for e in ctx.store.audit.entries(limit=500) if e["actor"] == actor and e["outcome"] == "denied"]


# --- the table ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "allowed", "refused"), [
    (Role.ADMIN, set(Permission), set()),
    (Role.CLINICIAN, {P.RECORDS_READ, P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY, P.TEXT_PROCESS},
     {P.RECORDS_WRITE, P.ACCESS_MANAGE, P.AUDIT_READ, P.MODELS_TRAIN}),
    (Role.RESEARCHER, {P.RECORDS_READ, P.TEXT_PROCESS, P.KNOWLEDGE_READ, P.MODELS_USE, P.MODELS_TRAIN},
     {P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY, P.RECORDS_WRITE, P.ACCESS_MANAGE, P.AUDIT_READ}),
    (Role.AUDITOR, {P.AUDIT_READ}, set(Permission) - {P.AUDIT_READ}),
    (Role.SERVICE, {P.RECORDS_WRITE, P.RECORDS_PROCESS, P.TEXT_PROCESS},
     {P.RECORDS_READ, P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY, P.ACCESS_MANAGE}),
])
def test_role_table(role, allowed, refused):
    principal = Principal("someone", role)
    assert all(principal.may(p) for p in allowed) and not any(principal.may(p) for p in refused)


def test_only_admin_and_clinician_touch_phi_and_nobody_unauthenticated_does_anything():
    for permission in (P.RECORDS_READ_RAW, P.RECORDS_REIDENTIFY):
        assert {r for r, held in ROLE_PERMISSIONS.items() if permission in held} == {Role.ADMIN, Role.CLINICIAN}
    assert not any(ANONYMOUS.may(p) for p in Permission)


# --- keys --------------------------------------------------------------------------------------
def test_keys_are_random_and_only_their_digest_matches():
    first, second = make_key(), make_key()
    assert first.text != second.text and first.key_id != second.key_id
    assert key_id_of(first.text) == first.key_id and first.digest != first.text
    assert digest_matches(first.digest, first.text) and not digest_matches(first.digest, second.text)


@pytest.mark.parametrize("text", ["", "clm_abc", "Bearer clm_x", "clm_0123456789ab_short",
                                  "xyz_0123456789ab_" + "a" * 43])
def test_malformed_keys_are_refused(text):
    with pytest.raises(Unauthenticated, match="malformed"):
        key_id_of(text)


# --- principals, keys and authentication, on each backend --------------------------------------
def test_principals_and_keys_lifecycle(ctx: Context):
    entry = access.add_principal(ctx, "rita", "researcher")
    assert (entry.name, entry.role, entry.active) == ("rita", "researcher", True)
    with pytest.raises(ConflictError):
        access.add_principal(ctx, "rita", "clinician")
    with pytest.raises(InputError, match="accepted: admin, clinician, researcher, auditor, service"):
        access.add_principal(ctx, "sam", "superuser")
    with pytest.raises(InputError, match="invalid principal name"):
        access.add_principal(ctx, "local:root", "admin")

    key_entry, key = access.create_key(ctx, "rita", expires_days=30)
    principal = access.authenticate(ctx, key)
    assert (principal.name, principal.role, principal.key_id) == ("rita", Role.RESEARCHER, key_entry.id)
    with ctx.store.sessions() as session:  # only the digest is stored
        row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.id == key_entry.id))
        assert key not in (row.digest, row.id) and key.split("_")[-1] not in row.digest
    assert [k.id for k in access.list_keys(ctx, "rita")] == [key_entry.id]
    assert access.key_dict(access.list_keys(ctx)[0])["state"] == "active"
    assert access.list_keys(ctx)[0].last_used_at is not None

    access.revoke_key(ctx, key_entry.id)
    with pytest.raises(Unauthenticated):
        access.authenticate(ctx, key)
    assert access.key_dict(access.list_keys(ctx)[0])["state"] == "revoked"
    with pytest.raises(NotFoundError):
        access.revoke_key(ctx, "0123456789ab")
    actions = [e["action"] for e in ctx.store.audit.entries(limit=20)]
    assert {"principal.add", "api_key.create", "api_key.revoke"} <= set(actions)


def test_expired_keys_unknown_keys_and_disabled_principals_are_refused_and_audited(ctx: Context):
    access.add_principal(ctx, "carl", "clinician")
    old_entry, old_key = access.create_key(ctx, "carl", expires_days=1)
    _, live_key = access.create_key(ctx, "carl")
    with ctx.store.sessions.begin() as session:
        session.execute(update(ApiKeyRow).where(ApiKeyRow.id == old_entry.id)
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    forged = f"clm_{old_entry.id}_" + "A" * 43
    for bad in (old_key, forged, None):
        with pytest.raises(Unauthenticated):
            access.authenticate(ctx, bad)
    assert access.authenticate(ctx, live_key).name == "carl"
    access.set_disabled(ctx, "carl")
    with pytest.raises(Unauthenticated):
        access.authenticate(ctx, live_key)
    access.set_disabled(ctx, "carl", False)
    assert access.authenticate(ctx, live_key).name == "carl"
    reasons = [e["details"]["reason"] for e in denials(ctx, "anonymous") if e["action"] == "authenticate"]
    assert sorted(reasons) == ["expired", "missing", "principal disabled", "unknown"]


def test_refusals_are_audited_with_permission_role_and_purpose(ctx: Context):
    researcher = acting(ctx, "rhea", "researcher")
    with pytest.raises(PermissionDenied, match="may not records.read_raw"):
        access.require(researcher, P.RECORDS_READ_RAW, target_type="record", target_id="r1", purpose="curiosity")
    assert access.require(researcher, P.RECORDS_READ) is None
    [refusal] = denials(ctx, "rhea")
    assert refusal["action"] == "records.read_raw" and refusal["target_id"] == "r1"
    assert refusal["purpose"] == "curiosity" and refusal["details"]["role"] == "researcher"


def test_break_glass_needs_a_stated_purpose(ctx: Context):
    clinician = acting(ctx, "cleo", "clinician")
    with pytest.raises(PermissionDenied, match="needs a stated purpose"):
        access.require(clinician, P.RECORDS_REIDENTIFY, target_type="note", target_id="n1", purpose="  ")
    assert denials(ctx, "cleo")[0]["details"]["reason"] == "no purpose"
    assert access.require(clinician, P.RECORDS_REIDENTIFY, purpose=" treating   the patient ") == "treating the patient"
    clinician.purpose = "follow-up call"  # the X-Purpose header of a request
    assert access.require(clinician, P.RECORDS_READ_RAW) == "follow-up call"


def test_nobody_and_the_trusted_caller(ctx: Context):
    nobody = ctx.acting_as(ANONYMOUS)
    with pytest.raises(Unauthenticated, match="needs an API key"):
        access.require(nobody, P.RECORDS_READ)
    assert access.require(ctx, P.RECORDS_READ_RAW) is None  # no principal: library use and tests


def test_admins_manage_others_but_cannot_lock_themselves_out(ctx: Context):
    admin = acting(ctx, "ada", "admin")
    researcher = acting(ctx, "rex", "researcher")
    with pytest.raises(PermissionDenied):
        access.add_principal(researcher, "mallory", "admin")
    with pytest.raises(InputError, match="cannot disable itself"):
        access.set_disabled(admin, "ada")
    assert not access.set_disabled(admin, "rex").active


def test_service_use_cases_check_the_acting_principal(ctx: Context, backend_settings):
    ids = store_made_up_note(backend_settings)
    from carelm.service import deid, records

    researcher = acting(ctx, "remy", "researcher")
    record = records.get_record(researcher, ids["record_id"], include_text=False)
    assert record.notes[0].text is None and record.notes[0].deid_text
    with pytest.raises(PermissionDenied):
        records.get_record(researcher, ids["record_id"], include_text=True, purpose="study")
    with pytest.raises(PermissionDenied):
        deid.reidentify_note(researcher, ids["note_id"], "study")
    with pytest.raises(PermissionDenied):
        ingest.ingest_payload(researcher, {"text": "Cough."})
    clinician = acting(ctx, "cora", "clinician")
    restored = deid.reidentify_note(clinician, ids["note_id"], "calling the patient back")
    assert restored["text"] == NOTE["text"]
    entry = next(e for e in ctx.store.audit.entries(limit=50) if e["action"] == "reidentify")
    assert (entry["actor"], entry["purpose"]) == ("cora", "calling the patient back")


@pytest.mark.parametrize(("mode", "url", "expected"), [
    ("auto", None, True),
    ("auto", "postgresql://u@db.example/carelm", False),
    ("off", None, False),
    ("on", "postgresql://u@db.example/carelm", True),
])
def test_local_operator(tmp_path, mode, url, expected):
    settings = get_settings(profile="test", data_dir=tmp_path / "data", secret_key=TEST_KEY, database_url=url,
                            local_operator=mode)
    operator = access.local_operator(settings)
    assert (operator is not None) == expected
    if operator is not None:
        assert operator.role is Role.ADMIN and operator.name.startswith("local:")
