"""``carelm users add|list|disable|enable`` and ``carelm keys create|list|revoke``: principals and their API keys.

Thin wrappers over carelm.service.access; managing principals needs the ``access.manage`` permission
(role ``admin``, or the local operator).  ``keys_app`` is the ``carelm keys`` group, open for more commands.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context
from carelm.lifecycle.access import Role
from carelm.service import access as access_service

users_app = typer.Typer(help="Principals (people and services) and their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of principals: create (shown once), list, revoke.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")]


@users_app.command("add")
@handle_errors
def add_user(
    name: Annotated[str, typer.Argument(help="Principal name: 1-64 of a-z 0-9 . _ @ -.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.")],
    db: DbOption = None,
) -> None:
    """Add a principal with a role (then give it a key with `carelm keys create NAME`)."""
    ctx = make_context(db)
    entry = access_service.add_principal(ctx, name, role)
    console.print(f"added {entry.name} (role {entry.role})", highlight=False)
    ctx.close()


@users_app.command("list")
@handle_errors
def list_users(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Principals with their role and whether they are active."""
    ctx = make_context(db)
    rows = [access_service.principal_dict(e) for e in access_service.list_principals(ctx)]
    ctx.close()
    if as_json:
        for row in rows:
            console.print(json.dumps(row), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"{len(rows)} principal(s)")
    for column in ("name", "role", "active", "created", "by"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["role"], "yes" if row["active"] else "disabled", row["created_at"][:19],
                      row["created_by"])
    console.print(table)


@users_app.command("disable")
@handle_errors
def disable_user(name: Annotated[str, typer.Argument(help="Principal name.")], db: DbOption = None) -> None:
    """Disable a principal: every one of its keys stops working at once (its history stays in the audit log)."""
    ctx = make_context(db)
    entry = access_service.set_disabled(ctx, name, True)
    console.print(f"{entry.name} is disabled", highlight=False)
    ctx.close()


@users_app.command("enable")
@handle_errors
def enable_user(name: Annotated[str, typer.Argument(help="Principal name.")], db: DbOption = None) -> None:
    """Enable a disabled principal again (its keys that are neither revoked nor expired work again)."""
    ctx = make_context(db)
    entry = access_service.set_disabled(ctx, name, False)
    console.print(f"{entry.name} is active", highlight=False)
    ctx.close()


@keys_app.command("create")
@handle_errors
def create_key(
    user: Annotated[str, typer.Argument(help="Principal name.")],
    expires_days: Annotated[int | None, typer.Option(help="Days until the key expires (default: never).")] = None,
    db: DbOption = None,
) -> None:
    """Create an API key and print it once: only its digest is stored, so it cannot be shown again."""
    ctx = make_context(db)
    entry, key = access_service.create_key(ctx, user, expires_days)
    ctx.close()
    expiry = f"expires {entry.expires_at:%Y-%m-%d %H:%M} UTC" if entry.expires_at else "never expires"
    err_console.print(f"key {entry.id} for {entry.principal} ({expiry}); store it now, it is not shown again:",
                      highlight=False)
    typer.echo(key)


@keys_app.command("revoke")
@handle_errors
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="Key id: the 12 hex characters after 'clm_' (see `carelm keys list`).")],
    db: DbOption = None,
) -> None:
    """Revoke a key; requests with it are refused from now on."""
    ctx = make_context(db)
    entry = access_service.revoke_key(ctx, key_id)
    console.print(f"key {entry.id} of {entry.principal} is revoked", highlight=False)
    ctx.close()


@keys_app.command("list")
@handle_errors
def list_keys(
    user: Annotated[str | None, typer.Argument(help="Only this principal's keys.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Keys by id with their principal and state (active, revoked, expired); never the keys themselves."""
    ctx = make_context(db)
    rows = [access_service.key_dict(e) for e in access_service.list_keys(ctx, user)]
    ctx.close()
    if as_json:
        for row in rows:
            console.print(json.dumps(row), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"{len(rows)} key(s)")
    for column in ("id", "principal", "state", "created", "expires", "last used"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["id"], row["principal"], row["state"], row["created_at"][:19],
                      (row["expires_at"] or "never")[:19], (row["last_used_at"] or "-")[:19])
    console.print(table)


def register(app: typer.Typer) -> None:
    from carelm.cli.audit import rotate_command

    keys_app.command("rotate")(rotate_command)
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
