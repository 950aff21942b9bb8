"""Access control use-cases: who acts (authentication), may they (``require``), and managing principals and keys.

Service functions call ``require(ctx, permission)`` before they touch data, so the API and the CLI obey the
same table (``carelm.lifecycle.access.ROLE_PERMISSIONS``).  Every refusal is written to the audit log with
the actor, the permission, the target, the stated purpose and outcome ``denied``.  A context without a
principal is a trusted in-process caller (library use, tests) and passes; the API and the CLI always set one.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from carelm.core.errors import InputError, NotFoundError, PermissionDenied, Unauthenticated
from carelm.core.settings import Settings
from carelm.lifecycle.access import (
    LOCAL_PREFIX,
    PURPOSE_REQUIRED,
    Permission,
    Principal,
    Role,
    check_name,
    clean_purpose,
    parse_role,
    roles_with,
)
from carelm.lifecycle.access_keys import KEY_ID_PATTERN, digest_matches, key_id_of, make_key
from carelm.service.context import Context
from carelm.store.models import utcnow
from carelm.store.principals import ApiKeyEntry, PrincipalEntry

MAX_KEY_DAYS = 3650
TOUCH_EVERY = timedelta(minutes=5)  # how stale ``last_used_at`` may get before a request updates it
BAD_KEY = "API key is unknown, revoked or expired (or its principal is disabled)"


# --- who acts ----------------------------------------------------------------------------------
def acting_principal(ctx: Context) -> Principal | None:
    """The context's principal, authenticating its ``api_key`` on first use (the CLI's ``--key``)."""
    if ctx.principal is None and ctx.api_key is not None:
        ctx.principal = authenticate(ctx, ctx.api_key)
        ctx.actor = ctx.principal.name
    return ctx.principal


def authenticate(ctx: Context, presented: str | None) -> Principal:
    """The principal of an API key; Unauthenticated (and an audited refusal) for a missing or bad key."""
    if not presented or not presented.strip():
        _refuse_login(ctx, None, "missing")
        raise Unauthenticated("this needs an API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>` "
                              "(keys come from `carelm keys create`)")
    try:
        key_id = key_id_of(presented)
    except Unauthenticated:
        _refuse_login(ctx, None, "malformed")
        raise
    found = ctx.store.principals.lookup(key_id)
    now = utcnow()
    reason = None
    if found is None or not digest_matches(found.digest, presented):
        reason = "unknown"
    elif found.key.state(now) != "active":
        reason = found.key.state(now)
    elif not found.principal.active:
        reason = "principal disabled"
    if reason is not None:
        _refuse_login(ctx, key_id, reason)
        raise Unauthenticated(BAD_KEY)
    last = found.key.last_used_at
    if last is None or now - last > TOUCH_EVERY:
        ctx.store.principals.touch_key(key_id, now)
    return Principal(found.principal.name, Role(found.principal.role), found.principal.id, key_id)


def _refuse_login(ctx: Context, key_id: str | None, reason: str) -> None:
    ctx.store.audit.record("anonymous", "authenticate", "api_key", key_id, outcome="denied",
                           details={"reason": reason})


def local_operator(settings: Settings) -> Principal | None:
    """The CLI's local operator (role admin) when ``CARELM_LOCAL_OPERATOR`` allows one for this database.

    ``auto`` allows it for a SQLite file the current user owns (or that does not exist yet): whoever can
    read that file and its key file can read everything in it anyway, so the role adds accountability, not
    a barrier.  A server database (PostgreSQL) is shared, so there every command needs a key.
    """
    mode = settings.local_operator
    if mode == "off" or (mode == "auto" and not _owns_local_database(settings.resolved_database_url)):
        return None
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "operator"
    return Principal(LOCAL_PREFIX + user, Role.ADMIN)


def _owns_local_database(url: str) -> bool:
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - a bad URL is reported when the store opens
        return False
    if parsed.get_backend_name() != "sqlite":
        return False
    if not parsed.database or parsed.database == ":memory:":
        return True
    path = Path(parsed.database)
    if not path.exists() or not hasattr(os, "getuid"):
        return True
    return path.stat().st_uid == os.getuid()


# --- may they ----------------------------------------------------------------------------------
def require(ctx: Context, permission: Permission, *, target_type: str = "-", target_id: str | None = None,
            purpose: str | None = None) -> str | None:
    """Allow the call or raise (and audit the refusal); returns the stated purpose (``purpose`` or the context's).

    Unauthenticated when nobody has authenticated; PermissionDenied when the role lacks ``permission``, or
    when the permission needs a stated purpose (break-glass) and none was given.
    """
    stated = clean_purpose(purpose) or clean_purpose(ctx.purpose)
    principal = acting_principal(ctx)
    if principal is None:
        return stated
    if not principal.authenticated:
        _audit_refusal(ctx, principal, permission, target_type, target_id, stated, "not authenticated")
        raise Unauthenticated("this needs an API key: set CARELM_API_KEY or pass `carelm --key KEY` (the local "
                              "operator is off for this database; see CARELM_LOCAL_OPERATOR)")
    if not principal.may(permission):
        _audit_refusal(ctx, principal, permission, target_type, target_id, stated, "role")
        raise PermissionDenied(f"role {principal.role.value!r} may not {permission.value} (allowed for: "
                               f"{', '.join(roles_with(permission))})", location=target_type)
    if permission in PURPOSE_REQUIRED and stated is None:
        _audit_refusal(ctx, principal, permission, target_type, target_id, stated, "no purpose")
        raise PermissionDenied(f"{permission.value} needs a stated purpose (break-glass): give `purpose` (API: the "
                               "`purpose` field or parameter, or an `X-Purpose` header; CLI: --purpose)",
                               location="purpose")
    return stated


def allowed(ctx: Context, permission: Permission) -> bool:
    """Whether the acting principal holds ``permission`` (no audit; for choosing what to show)."""
    principal = acting_principal(ctx)
    return principal is None or principal.may(permission)


def _audit_refusal(ctx: Context, principal: Principal, permission: Permission, target_type: str,
                   target_id: str | None, purpose: str | None, reason: str) -> None:
    details: dict[str, Any] = {"permission": permission.value, "reason": reason,
                               "role": principal.role.value if principal.role else None}
    if principal.key_id:
        details["key_id"] = principal.key_id
    ctx.store.audit.record(principal.name, permission.value, target_type, target_id, outcome="denied",
                           purpose=purpose, details=details)


# --- principals and keys -----------------------------------------------------------------------
def add_principal(ctx: Context, name: str, role: str) -> PrincipalEntry:
    require(ctx, Permission.ACCESS_MANAGE, target_type="principal", target_id=name)
    chosen = parse_role(role)
    entry = ctx.store.principals.add(check_name(name), chosen.value, ctx.actor)
    ctx.store.audit.record(ctx.actor, "principal.add", "principal", entry.name, details={"role": chosen.value})
    return entry


def list_principals(ctx: Context) -> list[PrincipalEntry]:
    require(ctx, Permission.ACCESS_MANAGE, target_type="principal")
    return ctx.store.principals.list()


def set_disabled(ctx: Context, name: str, disabled: bool = True) -> PrincipalEntry:
    """Disable a principal (every key stops working at once) or enable it again; audited when it changes."""
    require(ctx, Permission.ACCESS_MANAGE, target_type="principal", target_id=name)
    acting = acting_principal(ctx)
    if disabled and acting is not None and acting.name == name:
        raise InputError("a principal cannot disable itself; ask another admin", location="name")
    entry, changed = ctx.store.principals.set_disabled(name, disabled)
    if changed:
        ctx.store.audit.record(ctx.actor, "principal.disable" if disabled else "principal.enable", "principal",
                               name)
    return entry


def create_key(ctx: Context, principal: str, expires_days: int | None = None) -> tuple[ApiKeyEntry, str]:
    """A new key for ``principal``: its entry and the key text, which is shown once and never stored."""
    require(ctx, Permission.ACCESS_MANAGE, target_type="principal", target_id=principal)
    if expires_days is not None and not 1 <= expires_days <= MAX_KEY_DAYS:
        raise InputError(f"expiry must be 1 to {MAX_KEY_DAYS} days", location="expires_days")
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    made = make_key()
    entry = ctx.store.principals.add_key(principal, made.key_id, made.digest, ctx.actor, expires_at)
    ctx.store.audit.record(ctx.actor, "api_key.create", "api_key", entry.id,
                           details={"principal": principal, "expires_at": _iso(expires_at)})
    return entry, made.text


def revoke_key(ctx: Context, key_id: str) -> ApiKeyEntry:
    """Revoke a key by its id (the 12 hex characters after ``clm_``); takes effect on the next request."""
    require(ctx, Permission.ACCESS_MANAGE, target_type="api_key", target_id=key_id)
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise InputError(f"invalid key id {key_id!r}: 12 hex characters, as shown by `carelm keys list`",
                         location="key_id")
    entry, changed = ctx.store.principals.revoke_key(key_id)
    if changed:
        ctx.store.audit.record(ctx.actor, "api_key.revoke", "api_key", key_id, details={"principal": entry.principal})
    return entry


def list_keys(ctx: Context, principal: str | None = None) -> list[ApiKeyEntry]:
    require(ctx, Permission.ACCESS_MANAGE, target_type="api_key")
    return ctx.store.principals.list_keys(principal)


def issue_demo_key(ctx: Context, name: str = "demo", days: int = 7) -> str:
    """A fresh admin key for the demo principal (created when missing), for trying the API after ``carelm demo``."""
    try:
        ctx.store.principals.get(name)
    except NotFoundError:  # the first demo run
        add_principal(ctx, name, Role.ADMIN.value)
    return create_key(ctx, name, days)[1]


def principal_dict(entry: PrincipalEntry) -> dict[str, Any]:
    return {"name": entry.name, "role": entry.role, "active": entry.active, "created_at": _iso(entry.created_at),
            "created_by": entry.created_by, "disabled_at": _iso(entry.disabled_at)}


def key_dict(entry: ApiKeyEntry, now: datetime | None = None) -> dict[str, Any]:
    return {"id": entry.id, "principal": entry.principal, "state": entry.state(now or utcnow()),
            "created_at": _iso(entry.created_at), "created_by": entry.created_by,
            "expires_at": _iso(entry.expires_at), "revoked_at": _iso(entry.revoked_at),
            "last_used_at": _iso(entry.last_used_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
