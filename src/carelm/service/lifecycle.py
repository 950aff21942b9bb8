"""Lifecycle use-cases: apply the retention policy, erase a patient with a certificate, report on compliance.

These combine the store, the lifecycle rules and the records search index: a note deleted from the store
is also taken out of the index (its passages, postings and vectors), before the rows go and again after,
so an index update running meanwhile cannot bring it back.  Models trained on deleted records are marked
``needs_retraining`` before the rows go, so a crash can leave a model flagged, never a model unflagged.
Every use-case is audited; audit details and reports carry ids and counts, never text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from carelm.core.errors import ConfigError, NotFoundError
from carelm.lifecycle import erasure_certificate as certificates
from carelm.lifecycle.access import Permission
from carelm.lifecycle.compliance import CHECKS, check_names, run_checks
from carelm.lifecycle.compliance_rules import load_rules
from carelm.lifecycle.erasure import (
    ErasureRemoval,
    ErasureTarget,
    check_request,
    erase_patient_rows,
    find_target,
    previous_certificates,
)
from carelm.lifecycle.erasure_cascade import checkpoint, ids_digest
from carelm.lifecycle.retention import apply_plan, cascade_counts, plan_retention, plan_summary
from carelm.lifecycle.retention_policy import RetentionPolicy, load_policy
from carelm.service.access import require
from carelm.service.context import Context
from carelm.store.models import ErasureCertificateRow, new_id, utcnow
from carelm.store.registry import ModelEntry

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
__all__ = ["CHECKS", "compliance_report", "erase_patient", "get_certificate", "resolve_policy", "run_retention"]
# Erasure and retention destroy data: admin only, until the access table names a narrower permission.
DESTROY = Permission.ACCESS_MANAGE
# The compliance report shows ids and counts to whoever audits the store.
REPORT = Permission.AUDIT_READ
CERTIFICATE_ID = re.compile(r"[0-9a-f]{32}")


# --- retention ---------------------------------------------------------------------------------
def resolve_policy(ctx: Context, path: Path | None = None) -> RetentionPolicy:
    """The policy at ``path``, else at ``CARELM_RETENTION_POLICY``; a ConfigError when neither is set."""
    chosen = path or ctx.settings.retention_policy
    if chosen is None:
        raise ConfigError("no retention policy: set CARELM_RETENTION_POLICY or pass --policy FILE (.json or .toml; "
                          "see docs/lifecycle.md)")
    return load_policy(chosen)


def run_retention(ctx: Context, *, policy: Path | None = None, dry_run: bool = False, as_of: datetime | None = None,
                  on_total: Progress | None = None, on_batch: Progress | None = None) -> dict[str, Any]:
    """Apply the retention policy (or, with ``dry_run``, say what it would do); the report of ids and counts."""
    require(ctx, DESTROY, target_type="retention")
    chosen = resolve_policy(ctx, policy)
    store = ctx.store
    plan = plan_retention(store.sessions, chosen, as_of)
    touched_records = sorted(set(plan.note_records.values()))
    deleted = plan.deleted_note_ids
    if dry_run:
        tables = cascade_counts(store.sessions, plan)
        models = store.models.models_trained_on(touched_records) if touched_records else []
    else:
        if on_total:
            on_total(len(deleted) + len(plan.purged_note_ids))
        models = (store.models.mark_needing_retraining(touched_records, reason="retention policy", actor=ctx.actor)
                  if touched_records else [])
        passages = _unindex(ctx, deleted)
        tables = apply_plan(store.sessions, plan, batch_size=ctx.settings.batch_size * 16, on_batch=on_batch)
        checkpoint(store.engine)
        passages += _unindex(ctx, deleted)
        if passages:
            tables["search_index_passages"] = passages
    by_kind = plan.by_kind()
    details = {"dry_run": dry_run, "as_of": plan.as_of.isoformat(), "policy_sha256": chosen.digest,
               "by_kind": by_kind, "tables": tables, "models": [m.id for m in models]}
    audit_id = store.audit.record(ctx.actor, "retention.dry_run" if dry_run else "retention.run", "notes",
                                  details=details)
    log.info("retention applied", extra={"dry_run": dry_run, "notes_deleted": len(deleted),
                                         "raw_purged": len(plan.purged_note_ids)})
    return {"dry_run": dry_run, "as_of": plan.as_of.isoformat(), "policy": chosen.to_dict(), "by_kind": by_kind,
            "tables": tables, "ids": plan_summary(plan), "models_needing_retraining": [_model(m) for m in models],
            "nothing_due": not (deleted or plan.purged_note_ids), "audit_event_id": audit_id}


def _unindex(ctx: Context, note_ids: list[str], patient_id: str | None = None) -> int:
    """Take notes (and a patient's passages) out of the records search index, if there is one."""
    from carelm.retrieval.catalog import records_folder
    from carelm.retrieval.storage import current_generation

    if current_generation(records_folder(ctx.settings.data_dir)) is None:
        return 0
    from carelm.service import search

    removed = search.remove_notes(ctx, note_ids) if note_ids else 0
    return removed + (search.remove_patient(ctx, patient_id) if patient_id else 0)


# --- erasure -----------------------------------------------------------------------------------
def erase_patient(ctx: Context, patient: str, reason: str) -> dict[str, Any]:
    """Erase a patient (internal or external id) and every derived copy; the deletion certificate.

    Erasing again succeeds: nothing more is removed and the certificate says ``already_erased`` and names
    the earlier certificates.  An id the store never held (and never erased) is a NotFoundError.
    """
    given, reason = check_request(patient, reason)
    require(ctx, DESTROY, target_type="patient")
    with ctx.store.sessions() as session:
        target = find_target(session, ctx.store.cipher, given)
        previous = previous_certificates(session, ctx.store.cipher, given)
    if target is None and not previous:
        raise NotFoundError("no stored patient has this internal or external id, and none was erased under it",
                            location="patient")
    certificate_id = new_id()
    if target is None:
        subject, models = previous[-1][1], []
        removal = _nothing_left(ctx, given, certificate_id, subject, reason)
    else:
        subject = target.subject
        models, removal = _erase_target(ctx, target, certificate_id, reason)
    return _issue_certificate(ctx, certificate_id, subject, reason, removal, models,
                              [cert_id for cert_id, _ in previous], already=target is None)


def _erase_target(ctx: Context, target: ErasureTarget, certificate_id: str, reason: str
                  ) -> tuple[list[ModelEntry], ErasureRemoval]:
    """Flag the models, unindex, delete the rows with the certificate row, fold the SQLite log, unindex again."""
    store = ctx.store
    models = store.models.mark_needing_retraining(target.record_ids, reason=f"erasure {certificate_id}",
                                                  actor=ctx.actor)
    passages = _unindex(ctx, list(target.note_ids), target.patient_id)
    with store.sessions.begin() as session:
        removal = erase_patient_rows(session, target)
        session.add(_certificate_row(certificate_id, target.subject, target.subject_alias, ctx.actor, reason))
    if removal.storage["backend"] == "sqlite":
        removal.storage["wal_checkpointed"] = checkpoint(store.engine)
    passages += _unindex(ctx, list(target.note_ids), target.patient_id)
    if passages:
        removal.removed["search_index_passages"] = passages
    return models, removal


def _nothing_left(ctx: Context, given: str, certificate_id: str, subject: str, reason: str) -> ErasureRemoval:
    """A repeated request: the rows are gone; clear any passage still indexed under the id, record the request."""
    removal = ErasureRemoval(ids_sha256=ids_digest([]), content_sha256=ids_digest([]),
                             storage={"backend": ctx.store.backend})
    passages = _unindex(ctx, [], given)
    if passages:
        removal.removed["search_index_passages"] = passages
    with ctx.store.sessions.begin() as session:
        session.add(_certificate_row(certificate_id, subject, subject, ctx.actor, reason))
    return removal


def _issue_certificate(ctx: Context, certificate_id: str, subject: str, reason: str, removal: ErasureRemoval,
                       models: list[ModelEntry], previous: list[str], already: bool) -> dict[str, Any]:
    """Audit the erasure, then complete the certificate row with the audit entry and the hashed content."""
    audit_id = ctx.store.audit.record(ctx.actor, "erase", "patient", subject, purpose=reason, details={
        "certificate_id": certificate_id, "already_erased": already, "removed": removal.removed,
        "models": [m.id for m in models]})
    certificate = certificates.build(
        certificate_id=certificate_id, subject=subject, issued_at=utcnow(), requested_by=ctx.actor, reason=reason,
        removed=removal.removed, tables=removal.tables, ids_sha256=removal.ids_sha256,
        content_sha256=removal.content_sha256, models=[_model(m) for m in models], storage=removal.storage,
        already_erased=already, previous=previous, audit_event_id=audit_id)
    with ctx.store.sessions.begin() as session:
        session.execute(update(ErasureCertificateRow).where(ErasureCertificateRow.id == certificate_id).values(
            audit_event_id=audit_id, certificate=certificate, removed_total=certificate["removed_total"],
            certificate_hash=certificate[certificates.HASH_FIELD]))
    log.info("patient erased", extra={"certificate": certificate_id, "rows": certificate["removed_total"]})
    return certificate


def _certificate_row(certificate_id: str, subject: str, alias: str, requester: str, reason: str
                     ) -> ErasureCertificateRow:
    """The certificate row written with the removal; its content is filled in once the audit entry exists."""
    return ErasureCertificateRow(id=certificate_id, subject=subject, subject_alias=alias, issued_at=utcnow(),
                                 requested_by=requester, reason=reason, removed_total=0, certificate={},
                                 certificate_hash="")


def get_certificate(ctx: Context, certificate_id: str) -> dict[str, Any]:
    """A stored deletion certificate by id."""
    require(ctx, REPORT, target_type="erasure_certificate", target_id=certificate_id[:64])
    if not CERTIFICATE_ID.fullmatch(certificate_id):
        raise NotFoundError(f"no deletion certificate with id {certificate_id[:40]!r} (ids are 32 hex characters)")
    with ctx.store.sessions() as session:
        row = session.get(ErasureCertificateRow, certificate_id)
        if row is None or not row.certificate:
            raise NotFoundError(f"no deletion certificate with id {certificate_id!r}")
        return dict(row.certificate)


def _model(entry: ModelEntry) -> dict[str, Any]:
    return {"id": entry.id, "name": entry.name, "version": entry.version, "status": entry.status}


# --- compliance --------------------------------------------------------------------------------
def compliance_report(ctx: Context, checks: list[str] | None = None, *, rules: Path | None = None,
                      on_progress: Progress | None = None) -> dict[str, Any]:
    """Data-quality and compliance checks (all by default) as counts and ids; audited."""
    chosen = check_names(checks)
    require(ctx, REPORT, target_type="compliance")
    loaded = load_rules(rules)
    report: dict[str, Any] = {"generated_at": utcnow().isoformat(), "checks": chosen}
    report.update(run_checks(ctx.store, loaded, chosen, on_progress))
    if ctx.settings.retention_policy is not None:
        plan = plan_retention(ctx.store.sessions, resolve_policy(ctx))
        report["retention"] = {"policy": str(ctx.settings.retention_policy), "overdue_by_kind": plan.by_kind()}
    counts = {name: _headline(report[name]) for name in chosen}
    ctx.store.audit.record(ctx.actor, "compliance.report", "store", details={"checks": counts})
    return report


def _headline(section: dict[str, Any]) -> dict[str, int]:
    return {key: value for key, value in section.items() if isinstance(value, int) and not isinstance(value, bool)}
