"""The one error hierarchy of carelm.

Every error carries a machine-readable ``code`` and, where it applies, the place
that was wrong (``location``: a file, line, entry or field).  The API maps these
classes to HTTP statuses in exactly one place (``carelm.api.errors``).
Messages never contain note text or other PHI: they name ids and fields only.
"""

from __future__ import annotations

from typing import Any


class CarelmError(Exception):
    """Base class of all errors raised on purpose by carelm."""

    code = "carelm_error"

    def __init__(self, message: str, *, location: str | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.details = details or []

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.location:
            body["location"] = self.location
        if self.details:
            body["details"] = self.details
        return body


class ConfigError(CarelmError):
    """Settings or a configuration file are missing or unsafe."""

    code = "config_error"


class InputError(CarelmError):
    """Input data (a file, a request body, a record) is malformed."""

    code = "invalid_input"


class PayloadTooLarge(InputError):
    """A request body or input file is larger than the configured limit."""

    code = "payload_too_large"


class NotFoundError(CarelmError):
    """A requested object does not exist."""

    code = "not_found"


class ConflictError(CarelmError):
    """The request conflicts with the current state."""

    code = "conflict"


class PipelineError(CarelmError):
    """A pipeline is wrongly assembled (unknown stage, missing layer, bad order)."""

    code = "pipeline_error"


class StageError(CarelmError):
    """A stage failed on a note; the note is reported and skipped."""

    code = "stage_error"


class StorageError(CarelmError):
    """The database could not be reached or is not at the expected schema."""

    code = "storage_error"


class CryptoError(CarelmError):
    """Encrypted data could not be decrypted or authenticated."""

    code = "crypto_error"


class PermissionDenied(CarelmError):
    """The caller is not allowed to do this."""

    code = "permission_denied"


class Unauthenticated(PermissionDenied):
    """No valid credential: the API key is missing, malformed, unknown, revoked or expired."""

    code = "unauthenticated"


class PolicyError(PermissionDenied):
    """A policy forbids the call, e.g. identifiers in text bound for an external language model."""

    code = "policy_refused"


class BackendError(CarelmError):
    """A language-model backend failed: its endpoint was unreachable or answered with an error."""

    code = "backend_error"
