"""``carelm resources build``: compile the terminology and (optionally) the ICD-10-CM vector index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import console, handle_errors, make_context, progress_display
from carelm.service import resources as resource_service

resources_app = typer.Typer(help="Compiled resources: terminology and vector indexes.", no_args_is_help=True)


@resources_app.command("build")
@handle_errors
def build(
    shared_data: Annotated[Path | None, typer.Option(help="Development data folder (default $CARELM_SHARED_DATA "
                                                     "or ../shared/data when present).")] = None,
    out: Annotated[Path | None, typer.Option(help="Terminology file to write (default: the packaged one).")] = None,
    index: Annotated[bool, typer.Option("--index/--no-index", help="Also embed ICD-10-CM into a vector index "
                                        "in the data folder (several minutes on CPU).")] = False,
    index_dir: Annotated[Path | None, typer.Option(help="Where to write the index.")] = None,
    tune: Annotated[bool, typer.Option("--tune/--no-tune", help="Tune the encoder on ICD-10-CM synonyms "
                                       "before embedding (with --index; a few more minutes).")] = True,
    epochs: Annotated[int, typer.Option(min=1, help="Tuning epochs.")] = 1,
) -> None:
    """Compile the terminology (ICD-10-CM, abbreviations, and Hetionet/DDXPlus names when shared data is given)."""
    source = shared_data or resource_service.default_shared_data()
    stats = resource_service.build_terminology(source, out)
    console.print(f"terminology: {stats.get('entries')} entries from {source or 'packaged sources only'}",
                  highlight=False)
    if index:
        ctx = make_context(None)
        with progress_display() as progress:
            tuning = progress.add_task("tuning the encoder", total=None, visible=tune)
            embedding = progress.add_task("embedding ICD-10-CM", total=len(resource_service.icd_index_rows()))

            def tuned(step: int, steps: int, loss: float) -> None:
                progress.update(tuning, completed=step, total=steps,
                                description=f"tuning the encoder (loss {loss:.3f})")

            def embedded(done: int) -> None:
                progress.update(embedding, completed=done)

            manifest = resource_service.build_icd_index(ctx.settings, index_dir, embedded, tune=tune, epochs=epochs,
                                                        tune_progress=tuned)
        tuning_note = f", encoder tuned on {manifest['tuning']['pairs']} pairs" if manifest.get("tuning") else ""
        console.print(f"index: {manifest['count']} rows in {index_dir or resource_service.index_dir(ctx.settings)}"
                      f"{tuning_note}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(resources_app, name="resources")
