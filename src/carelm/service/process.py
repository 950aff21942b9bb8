"""Processing use-case: run the (default or configured) pipeline over stored notes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from carelm.batch.local import RunReport, run_pipeline
from carelm.core.errors import InputError
from carelm.core.pipeline import Pipeline
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context

PENDING = ("ingested", "failed")
# --all reprocesses these; notes whose raw text retention purged (raw_purged) have nothing left to process
REPROCESSABLE = ("ingested", "failed", "processed")


def load_pipeline(config: Path | None = None, stages: list[str] | None = None) -> Pipeline:
    """The default pipeline, or one from a JSON config file, or from a list of stage names."""
    if config is not None:
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read pipeline config: {type(exc).__name__}", location=str(config)) from None
        return Pipeline.from_dict(data)
    if stages:
        return Pipeline.from_names(stages)
    return Pipeline.default()


def attach_data_resources(pipeline: Pipeline, settings) -> None:
    """Point the ICD-10-CM coder at the vector index in the data folder when one was built there."""
    from carelm.coding.index import IcdIndex
    from carelm.service.resources import index_dir

    index = index_dir(settings)
    for stage in pipeline.stages:
        if stage.name == "carelm.icd10.v1" and stage.index_path is None and IcdIndex.exists(index):
            stage.index_path = str(index)


def pending_count(ctx: Context, reprocess: bool) -> int:
    require(ctx, Permission.RECORDS_PROCESS, target_type="run")
    return ctx.store.records.count_notes(REPROCESSABLE if reprocess else PENDING)


def process_notes(
    ctx: Context, pipeline: Pipeline | None = None, *, reprocess: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> RunReport:
    """Run the pipeline over new and previously failed notes (or all of them with ``reprocess``)."""
    require(ctx, Permission.RECORDS_PROCESS, target_type="run")
    pipeline = pipeline or Pipeline.default()
    attach_data_resources(pipeline, ctx.settings)
    report = run_pipeline(ctx.store, pipeline, statuses=REPROCESSABLE if reprocess else PENDING,
                          batch_size=ctx.settings.batch_size, on_batch=on_batch)
    ctx.store.audit.record(ctx.actor, "process", "run", report.run_id,
                           details={"done": report.notes_done, "failed": report.notes_failed})
    if report.notes_done and ctx.settings.index_on_process:
        from carelm.service.search import index_after_process

        index_after_process(ctx)
    return report


def registered_stages() -> dict:
    """Registered stages by versioned name (built-ins included)."""
    from carelm.core.registry import registered_stages as _registered

    return _registered()
