"""Shared CLI plumbing: settings from options, error display, progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from carelm.core.errors import CarelmError
from carelm.core.logging import configure_logging
from carelm.core.settings import get_settings
from carelm.service.context import Context

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (sqlite:///PATH or postgresql://...); default CARELM_DATABASE_URL or "
                              "a SQLite file in ./carelm-data.", show_default=False),
]


def make_context(db: str | None, actor: str = "cli") -> Context:
    settings = get_settings(database_url=db)
    configure_logging(settings.log_level)
    return Context(settings, actor=actor)


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
def progress_bar(description: str, total: int | None):
    """A rich progress bar; yields a function that advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
