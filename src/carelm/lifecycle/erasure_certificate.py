"""Deletion certificates: a JSON account of one erasure, hashed so a later edit shows.

The certificate names the patient only by keyed hashes.  It lists the rows removed per table (and the
passages removed from the records search index, ``search_index_passages``) with a SHA-256 of their ids,
a SHA-256 of the removed notes' content hashes, the models flagged for retraining, what erasure cannot
reach, the time, reason, requester and the audit entry.  ``certificate_sha256`` is the SHA-256 of the
canonical JSON of every other field (sorted keys, no spaces), see :func:`verify`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

FORMAT = "carelm-deletion-certificate"
VERSION = 1
HASH_FIELD = "certificate_sha256"

NOT_REMOVED = (
    "backups and database snapshots taken before the erasure (they age out under their own retention)",
    "files exported or copied out of carelm (JSONL exports, reports, training data files written by users)",
    "weights of models trained on the patient's records: those models are flagged needs_retraining",
    "audit log entries, which are append-only and name internal ids only, never text or identity",
    "model lineage rows (model_training_records), which keep random record ids so flagged models stay traceable",
    "on PostgreSQL, dead row versions in table files until (auto)vacuum reclaims them (unreachable through SQL)",
)


def build(*, certificate_id: str, subject: str, issued_at: datetime, requested_by: str, reason: str,
          removed: dict[str, int], tables: dict[str, str], ids_sha256: str, content_sha256: str,
          models: list[dict[str, Any]], storage: dict[str, Any], already_erased: bool,
          previous: list[str], audit_event_id: int | None) -> dict[str, Any]:
    """The certificate as a JSON-safe dict, with its hash."""
    body = {
        "format": FORMAT, "version": VERSION, "certificate_id": certificate_id,
        "subject": {"kind": "patient", "keyed_hash": subject, "hash": "HMAC-SHA256 of the patient's external id "
                    "under the store's key (the store's patient lookup key)"},
        "issued_at": issued_at.isoformat(), "requested_by": requested_by, "reason": reason,
        "already_erased": already_erased, "previous_certificates": previous,
        "removed": dict(sorted(removed.items())), "removed_total": sum(removed.values()),
        "hashes": {"ids_sha256": ids_sha256, "content_sha256": content_sha256,
                   "tables": dict(sorted(tables.items()))},
        "models_needing_retraining": models,
        "storage": storage,
        "not_removed": list(NOT_REMOVED),
        "audit_event_id": audit_event_id,
    }
    return {**body, HASH_FIELD: digest(body)}


def digest(certificate: dict[str, Any]) -> str:
    body = {key: value for key, value in certificate.items() if key != HASH_FIELD}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def verify(certificate: dict[str, Any]) -> bool:
    """True when the certificate's hash matches its content."""
    return certificate.get(HASH_FIELD) == digest(certificate)
