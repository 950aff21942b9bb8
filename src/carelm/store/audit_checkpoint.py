"""A signed copy of the audit log's newest entry, kept in a file outside the database.

The hash chain shows edits, deletions and insertions inside the log, but not the newest entries
being deleted (the shortened chain is still a valid chain), nor a log rewritten from some entry
on by someone who recomputes every later hash.  The checkpoint catches both up to the entry it
records: it holds that entry's id and hash with an HMAC under a secret of the database's keyring,
so it cannot be edited without the key, and a database whose chain no longer contains that entry
fails verification.  Each append moves the checkpoint forward (never back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from carelm.store.models import utcnow

log = logging.getLogger(__name__)

FORMAT = 1
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_GUARD = threading.Lock()


@dataclass(frozen=True)
class CheckpointState:
    """What the checkpoint file says: ``absent``, ``valid`` (with id and hash) or ``invalid`` (with why)."""

    status: str
    entry_id: int | None = None
    entry_hash: str | None = None
    reason: str | None = None


class AuditCheckpoint:
    """The checkpoint file of one database (``<folder>/<database id>.json``)."""

    def __init__(self, path: Path, secret: bytes):
        self.path = path
        self._secret = secret

    def _mac(self, entry_id: int, entry_hash: str) -> str:
        message = f"carelm-audit-checkpoint:{FORMAT}:{entry_id}:{entry_hash}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def read(self) -> CheckpointState:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return CheckpointState("absent")
        except (OSError, ValueError) as exc:
            return CheckpointState("invalid", reason=f"unreadable ({type(exc).__name__})")
        try:
            entry_id, entry_hash, mac = int(data["id"]), str(data["hash"]), str(data["mac"])
        except (KeyError, TypeError, ValueError):
            return CheckpointState("invalid", reason="fields id, hash and mac are missing or malformed")
        if data.get("format") != FORMAT or not hmac.compare_digest(mac, self._mac(entry_id, entry_hash)):
            return CheckpointState("invalid", reason="its signature does not match: it was edited, or written "
                                                     "for another database or with other keys")
        return CheckpointState("valid", entry_id, entry_hash)

    def advance(self, entry_id: int, entry_hash: str) -> None:
        """Record entry ``entry_id`` unless the file already records a later one (or fails its check)."""
        try:
            with self._locked():
                state = self.read()
                if state.status == "invalid":  # keep the evidence; `carelm audit verify` reports it
                    log.warning("audit checkpoint not updated: the file fails its check",
                                extra={"path": str(self.path)})
                    return
                if state.status == "valid" and state.entry_id is not None and state.entry_id >= entry_id:
                    return
                self._write(entry_id, entry_hash)
        except OSError as exc:  # the entry is committed; a missing checkpoint only weakens truncation checks
            log.warning("audit checkpoint not written", extra={"path": str(self.path), "error": type(exc).__name__})

    def reset(self, entry_id: int, entry_hash: str) -> None:
        """Overwrite the checkpoint (after an operator has investigated a failed verification)."""
        with self._locked():
            self._write(entry_id, entry_hash)

    def _write(self, entry_id: int, entry_hash: str) -> None:
        body = {"format": FORMAT, "id": entry_id, "hash": entry_hash, "written_at": utcnow().isoformat(),
                "mac": self._mac(entry_id, entry_hash)}
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(body, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers: threads of this process by a lock, processes by ``flock`` where there is one."""
        with _GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(self.path, threading.Lock())
        with thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as handle:
                try:
                    import fcntl
                except ImportError:  # Windows: threads are still serialised
                    yield
                    return
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
