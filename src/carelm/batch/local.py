"""Run a pipeline over the stored notes, batch by batch, in this process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from carelm.core.pipeline import Pipeline
from carelm.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    run_id: str
    notes_total: int
    notes_done: int = 0
    notes_failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def run_pipeline(
    store: Store, pipeline: Pipeline, *, statuses: tuple[str, ...] | None, batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> RunReport:
    """Process the notes with the given statuses (all when None); failures are recorded, not fatal."""
    total = store.records.count_notes(statuses)
    run_id = store.runs.start(pipeline.to_dict(), pipeline.fingerprint, total)
    report = RunReport(run_id=run_id, notes_total=total)
    written = sorted(pipeline.produces() - {"raw"})
    status = "failed"
    for stage in pipeline.stages:
        if getattr(stage, "needs_secret", False):
            stage.use_secret(store.cipher.derived_secret("surrogates"))
    try:
        pipeline.warm_up()
        for notes in store.records.iter_notes(statuses, batch_size):
            result = pipeline.run(notes)
            if result.done:
                store.records.save_processed(result.done, written, run_id)
            if result.failed:
                store.records.mark_failed([n.id for n, _ in result.failed], run_id)
                report.failures += [{"note_id": n.id, "error": err.message} for n, err in result.failed]
            report.notes_done += len(result.done)
            report.notes_failed += len(result.failed)
            if on_batch:
                on_batch(len(notes))
        status = "done"
    finally:
        store.runs.finish(run_id, done=report.notes_done, failed=report.notes_failed,
                          failures=report.failures, status=status)
        log.info("pipeline run finished", extra={"run_id": run_id, "status": status,
                                                 "done": report.notes_done, "failed": report.notes_failed})
    return report
