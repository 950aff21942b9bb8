"""Processing runs: which pipeline ran, when, and what it did to how many notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carelm.store.models import ProcessingRunRow, new_id, utcnow

MAX_RECORDED_FAILURES = 1000


class RunRepository:
    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def start(self, pipeline: dict[str, Any], fingerprint: str, notes_total: int) -> str:
        run_id = new_id()
        with self._sessions.begin() as session:
            row = ProcessingRunRow(id=run_id, pipeline=pipeline, fingerprint=fingerprint, notes_total=notes_total)
            session.add(row)
        return run_id

    def finish(self, run_id: str, *, done: int, failed: int, failures: list[dict[str, str]], status: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(ProcessingRunRow, run_id)
            row.notes_done, row.notes_failed, row.status = done, failed, status
            row.failures = failures[:MAX_RECORDED_FAILURES]
            row.finished_at = utcnow()

    def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        query = select(ProcessingRunRow).order_by(ProcessingRunRow.started_at.desc()).limit(limit)
        with self._sessions() as session:
            return [
                {
                    "id": r.id, "status": r.status, "fingerprint": r.fingerprint, "started_at": r.started_at,
                    "finished_at": r.finished_at, "notes_total": r.notes_total, "notes_done": r.notes_done,
                    "notes_failed": r.notes_failed,
                }
                for r in session.scalars(query)
            ]
