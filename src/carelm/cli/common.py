"""Shared CLI plumbing: settings from options, error display, progress bars."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from carelm.core.errors import CarelmError, InputError
from carelm.core.logging import configure_logging
from carelm.core.settings import Settings, get_settings
from carelm.lifecycle.access import ANONYMOUS
from carelm.service.access import local_operator
from carelm.service.context import Context

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (sqlite:///PATH or postgresql://...); default CARELM_DATABASE_URL or "
                              "a SQLite file in ./carelm-data.", show_default=False),
]


KeyOption = Annotated[
    str | None,
    typer.Option("--key", help="Act as the principal of this API key (default CARELM_API_KEY; without one, the local "
                               "operator where CARELM_LOCAL_OPERATOR allows it).", show_default=False),
]


def make_context(db: str | None, actor: str = "cli") -> Context:
    """Settings from options and the environment, acting for the CLI's principal (see ``cli_principal``)."""
    settings = get_settings(database_url=db)
    configure_logging(settings.log_level)
    return cli_principal(Context(settings, actor=actor), settings)


def cli_principal(ctx: Context, settings: Settings) -> Context:
    """Who the CLI acts for: the key of ``carelm --key`` or CARELM_API_KEY (checked at the first permission
    check, so commands that read no stored data need none), else the local operator where allowed, else nobody
    (then a command touching stored data stops with ``unauthenticated``)."""
    key = _INVOCATION["key"] or (settings.api_key.get_secret_value() if settings.api_key else None)
    if key:
        ctx.api_key = key
        return ctx
    ctx.principal = local_operator(settings) or ANONYMOUS
    ctx.actor = ctx.principal.name if ctx.principal.authenticated else ctx.actor
    return ctx


_INVOCATION: dict[str, str | None] = {"key": None}  # options given to `carelm` itself, before the command


def use_key(key: str | None) -> None:
    """Remember ``carelm --key`` for the command of this invocation (called by the root callback)."""
    _INVOCATION["key"] = key


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn carelm errors into a one-line message and exit status 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CarelmError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def progress_display():
    """One rich progress display on stderr, for several bars (``add_task``) shown together."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        yield progress


@contextmanager
def progress_bar(description: str, total: int | None):
    """A rich progress bar; yields a function that advances it."""
    with progress_display() as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def read_text_input(file: str | None) -> str:
    """The UTF-8 text of ``file``, or of standard input when ``file`` is None or ``-``."""
    if file in (None, "-"):
        return sys.stdin.read()
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as UTF-8 text ({type(exc).__name__})", location=str(path)) from None


def stream_jsonl(in_path: Path, out_path: Path, description: str,
                 convert: Callable[[Iterable[str], str], Iterator[dict]]) -> tuple[int, int]:
    """Write ``convert(lines of IN, name of IN)`` to OUT, one JSON line each, with a progress bar.

    OUT is written to ``OUT.partial`` and moved into place at the end, so it is never half-written.
    Returns (non-blank input lines, output lines carrying an ``error`` field).
    """
    try:
        total = sum(1 for line in in_path.open(encoding="utf-8") if line.strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(in_path)) from None
    tmp = out_path.with_name(out_path.name + ".partial")
    errors = 0
    with in_path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        with progress_bar(description, total) as advance:
            for out in convert(src, str(in_path)):
                errors += "error" in out
                dst.write(json.dumps(out, ensure_ascii=False) + "\n")
                advance()
    os.replace(tmp, out_path)
    return total, errors
