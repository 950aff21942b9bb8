"""Encryption-key use-cases: which key versions encrypt the stored values, and rotation to a new key.

Rotation re-encrypts every encrypted value (note text, patient identities, surrogate maps and the store's
own key material) under the target key, in batches that each commit, so an interrupted rotation loses
nothing and a second run continues with the values still under another key.  Reads keep working during
a rotation because every ciphertext names its key version and the keyring holds the old keys too.
Start, end and counts go to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.core.settings import check_private_file, decode_key
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context
from carelm.store import keyring
from carelm.store.crypto import TextCipher

DEFAULT_BATCH = 500


@dataclass
class RotationReport:
    """What a rotation run did; ``status`` is complete, paused (``max_batches`` reached) or incomplete."""

    key_version: str
    rotated: dict[str, int]
    remaining: dict[str, int]
    failed: list[dict[str, str]] = field(default_factory=list)
    batches: int = 0
    status: str = "complete"

    def to_dict(self) -> dict[str, Any]:
        return {"key_version": self.key_version, "status": self.status, "batches": self.batches,
                "rotated": self.rotated, "remaining": self.remaining, "failed": self.failed}


def read_key_file(path: Path, profile: str) -> bytes:
    """A key from a file (base64 of 32 bytes, or a passphrase), refused when other users may read it."""
    try:
        check_private_file(path, profile)
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(f"cannot read the key file ({type(exc).__name__})", location=str(path)) from None
    if not text:
        raise InputError("the key file is empty", location=str(path))
    return decode_key(text)


def key_status(ctx: Context, new_key: bytes | None = None) -> dict[str, Any]:
    """The key versions (configured, and the rotation target: ``new_key`` or the current key) and, per
    encrypted column, how many values each version encrypted and how many a rotation would re-encrypt."""
    require(ctx, Permission.ACCESS_MANAGE, target_type="keyring")
    cipher = ctx.store.cipher if new_key is None else ctx.store.cipher.with_current(new_key)
    return {"target": cipher.key_version, "configured": ctx.store.cipher.key_versions,
            "columns": keyring.key_version_counts(ctx.store.sessions),
            "pending": keyring.pending_counts(ctx.store.sessions, cipher)}


def rotate_keys(
    ctx: Context,
    new_key: bytes | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    max_batches: int | None = None,
    on_batch: Callable[[keyring.BatchResult], None] | None = None,
) -> RotationReport:
    """Re-encrypt every value not yet under the target key: ``new_key``, or the configured current key.

    With ``new_key`` the configured keys (current and previous) decrypt and ``new_key`` encrypts; configure it
    as the current key afterwards.  Stops after ``max_batches`` batches when given (run again to continue).
    ``on_batch`` is called after each committed batch; an exception it raises stops the rotation there.
    """
    require(ctx, Permission.ACCESS_MANAGE, target_type="keyring")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 100_000:
        raise InputError(f"batch size must be from 1 to 100000, got {batch_size!r}", location="batch_size")
    if max_batches is not None and max_batches < 1:
        raise InputError(f"max batches must be at least 1, got {max_batches!r}", location="max_batches")
    if new_key is not None and len(new_key) != 32:
        raise InputError("the new key must be 32 bytes", location="new_key")
    store = ctx.store
    cipher = store.cipher if new_key is None else store.cipher.with_current(new_key)
    pending = keyring.pending_counts(store.sessions, cipher)
    start = store.audit.record(ctx.actor, "keys.rotate.start", "keyring", cipher.key_version,
                               details={"pending": pending, "batch_size": batch_size, "max_batches": max_batches})
    report = RotationReport(cipher.key_version, {col.name: 0 for col in keyring.ENCRYPTED_COLUMNS}, {})
    try:
        _run(store, cipher, report, batch_size, max_batches, on_batch)
    except BaseException as exc:
        store.audit.record(ctx.actor, "keys.rotate", "keyring", cipher.key_version, outcome="error",
                           details={**_counts(report), "start_event": start, "error": type(exc).__name__})
        raise
    report.remaining = keyring.pending_counts(store.sessions, cipher)
    if report.failed or any(report.remaining.values()):
        report.status = "paused" if report.status == "paused" else "incomplete"
    else:
        report.status = "complete"
    store.audit.record(ctx.actor, "keys.rotate", "keyring", cipher.key_version,
                       outcome="ok" if report.status == "complete" else report.status,
                       details={**_counts(report), "start_event": start, "remaining": report.remaining})
    return report


def _run(store, cipher: TextCipher, report: RotationReport, batch_size: int, max_batches: int | None,
         on_batch: Callable[[keyring.BatchResult], None] | None) -> None:
    for col in keyring.ENCRYPTED_COLUMNS:
        after = None
        while True:
            if max_batches is not None and report.batches >= max_batches:
                report.status = "paused"
                return
            result = keyring.reencrypt_batch(store.sessions, col, cipher, after, batch_size)
            if result.size == 0:
                break
            report.batches += 1
            report.rotated[col.name] += result.rotated
            report.failed += result.failed
            after = result.last_key
            if on_batch is not None:
                on_batch(result)
            if result.size < batch_size:
                break


def _counts(report: RotationReport) -> dict[str, Any]:
    return {"rotated": dict(report.rotated), "failed": len(report.failed), "batches": report.batches}
