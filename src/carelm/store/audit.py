"""An append-only audit log whose entries are chained by hashes, so edits can be detected."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carelm.store.models import AuditEventRow, utcnow

GENESIS = "0" * 64


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    blob = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256((prev_hash + blob).encode()).hexdigest()


class AuditLog:
    """Records who did what to which object, why, and with what outcome.  Details never hold PHI."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def record(
        self, actor: str, action: str, target_type: str, target_id: str | None = None, *,
        outcome: str = "ok", purpose: str | None = None, details: dict[str, Any] | None = None,
    ) -> int:
        with self._sessions.begin() as session:
            prev = session.scalar(select(AuditEventRow.hash).order_by(AuditEventRow.id.desc()).limit(1)) or GENESIS
            at = utcnow()
            fields = {
                "at": at.isoformat(), "actor": actor, "action": action, "target_type": target_type,
                "target_id": target_id, "purpose": purpose, "outcome": outcome, "details": details or {},
            }
            row = AuditEventRow(**{**fields, "at": at}, prev_hash=prev, hash=entry_hash(prev, fields))
            session.add(row)
            session.flush()
            return row.id

    def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [
                {"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target_type": r.target_type,
                 "target_id": r.target_id, "purpose": r.purpose, "outcome": r.outcome, "details": r.details}
                for r in session.scalars(query)
            ]

