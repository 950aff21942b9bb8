"""Repository of principals and their API keys (``principals``, ``api_keys``).

Only key digests are stored.  Entries come back detached and frozen; times are timezone-aware UTC on
every backend (SQLite returns naive datetimes, which are UTC here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carelm.core.errors import ConflictError, NotFoundError
from carelm.store.models import ApiKeyRow, PrincipalRow, new_id, utcnow


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    id: str
    principal: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def state(self, now: datetime) -> str:
        """``active``, ``revoked`` or ``expired`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """A stored key with its digest and principal, for authentication only."""

    key: ApiKeyEntry
    digest: str
    principal: PrincipalEntry


class PrincipalRepository:
    """Principals by name, and their keys by key id."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    # --- principals ----------------------------------------------------------------------------
    def add(self, name: str, role: str, created_by: str) -> PrincipalEntry:
        try:
            with self._sessions.begin() as session:
                row = PrincipalRow(id=new_id(), name=name, role=role, created_at=utcnow(), created_by=created_by)
                session.add(row)
                session.flush()
                return _principal(row)
        except IntegrityError:
            raise ConflictError(f"a principal named {name!r} already exists", location="name") from None

    def get(self, name: str) -> PrincipalEntry:
        with self._sessions() as session:
            return _principal(_principal_row(session, name))

    def list(self) -> list[PrincipalEntry]:
        with self._sessions() as session:
            return [_principal(r) for r in session.scalars(select(PrincipalRow).order_by(PrincipalRow.name))]

    def set_disabled(self, name: str, disabled: bool) -> tuple[PrincipalEntry, bool]:
        """Disable (or enable again) a principal; returns the entry and whether anything changed."""
        with self._sessions.begin() as session:
            row = _principal_row(session, name)
            changed = (row.disabled_at is None) == disabled
            if changed:
                row.disabled_at = utcnow() if disabled else None
            return _principal(row), changed

    # --- keys ----------------------------------------------------------------------------------
    def add_key(self, principal: str, key_id: str, digest: str, created_by: str,
                expires_at: datetime | None = None) -> ApiKeyEntry:
        with self._sessions.begin() as session:
            owner = _principal_row(session, principal)
            row = ApiKeyRow(id=key_id, principal_id=owner.id, digest=digest, created_at=utcnow(),
                            created_by=created_by, expires_at=expires_at)
            session.add(row)
            session.flush()
            return _key(row, owner.name)

    def lookup(self, key_id: str) -> KeyLookup | None:
        with self._sessions() as session:
            found = session.execute(
                select(ApiKeyRow, PrincipalRow).join(PrincipalRow, ApiKeyRow.principal_id == PrincipalRow.id)
                .where(ApiKeyRow.id == key_id)
            ).first()
            if found is None:
                return None
            key, owner = found
            return KeyLookup(_key(key, owner.name), key.digest, _principal(owner))

    def revoke_key(self, key_id: str) -> tuple[ApiKeyEntry, bool]:
        """Revoke a key; returns the entry and whether it was still unrevoked."""
        with self._sessions.begin() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id!r}; see `carelm keys list`", location="key_id")
            changed = row.revoked_at is None
            if changed:
                row.revoked_at = utcnow()
            owner = session.get(PrincipalRow, row.principal_id)
            return _key(row, owner.name if owner else "?"), changed

    def list_keys(self, principal: str | None = None) -> list[ApiKeyEntry]:
        query = (select(ApiKeyRow, PrincipalRow.name).join(PrincipalRow, ApiKeyRow.principal_id == PrincipalRow.id)
                 .order_by(ApiKeyRow.created_at, ApiKeyRow.id))
        with self._sessions() as session:
            if principal is not None:
                query = query.where(PrincipalRow.id == _principal_row(session, principal).id)
            return [_key(row, name) for row, name in session.execute(query)]

    def touch_key(self, key_id: str, at: datetime) -> None:
        with self._sessions.begin() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is not None:
                row.last_used_at = at


def _principal_row(session: Session, name: str) -> PrincipalRow:
    row = session.scalar(select(PrincipalRow).where(PrincipalRow.name == name))
    if row is None:
        raise NotFoundError(f"no principal named {name!r}; see `carelm users list`", location="name")
    return row


def aware(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _principal(row: PrincipalRow) -> PrincipalEntry:
    return PrincipalEntry(row.id, row.name, row.role, aware(row.created_at), row.created_by, aware(row.disabled_at))


def _key(row: ApiKeyRow, principal: str) -> ApiKeyEntry:
    return ApiKeyEntry(row.id, principal, aware(row.created_at), row.created_by, aware(row.expires_at),
                       aware(row.revoked_at), aware(row.last_used_at))
