"""A Pipeline: an ordered list of stages, checked before it runs, applied to batches."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from carelm.core.errors import PipelineError, StageError
from carelm.core.registry import Stage, create_stage
from carelm.core.types import RAW, Note

log = logging.getLogger(__name__)

DEFAULT_STAGES = (
    "carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1", "carelm.deid.v1",
    "carelm.terms.v1", "carelm.context.v1", "carelm.icd10.v1",
)


@dataclass
class BatchResult:
    """Notes that went through every stage, and the ones that failed with their error."""

    done: list[Note] = field(default_factory=list)
    failed: list[tuple[Note, StageError]] = field(default_factory=list)


class Pipeline:
    """Stages in order.  ``validate()`` checks every read is produced by an earlier stage."""

    def __init__(self, stages: Iterable[Stage]):
        self.stages = list(stages)
        self.validate()
        self._warm = False

    @classmethod
    def default(cls) -> Pipeline:
        return cls(create_stage(name) for name in DEFAULT_STAGES)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> Pipeline:
        return cls(create_stage(name) for name in names)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pipeline:
        try:
            specs = data["stages"]
        except (KeyError, TypeError):
            raise PipelineError("a pipeline config needs a 'stages' list") from None
        return cls(Stage.from_dict(spec) for spec in specs)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [stage.to_dict() for stage in self.stages]}

    @property
    def fingerprint(self) -> str:
        """A short hash of the configuration, recorded with each processing run."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def produces(self) -> set[str]:
        out = {RAW}
        for stage in self.stages:
            out.update(stage.writes)
        return out

    def validate(self) -> None:
        if not self.stages:
            raise PipelineError("a pipeline needs at least one stage")
        available = {RAW}
        seen: set[str] = set()
        for position, stage in enumerate(self.stages):
            if stage.name in seen:
                raise PipelineError(f"stage {stage.name} appears twice")
            seen.add(stage.name)
            missing = [name for name in stage.reads if name not in available]
            if missing:
                raise PipelineError(
                    f"stage {stage.name} (position {position}) reads {missing}, which no earlier stage writes; "
                    f"available then: {sorted(available)}"
                )
            available.update(stage.writes)

    def warm_up(self) -> None:
        if not self._warm:
            for stage in self.stages:
                stage.warm_up()
            self._warm = True

    def run(self, notes: list[Note]) -> BatchResult:
        """Run every stage on a batch; a note that makes a stage fail is isolated and reported."""
        self.warm_up()
        result = BatchResult()
        try:
            result.done = self._run_stages(notes)
        except Exception:  # noqa: BLE001 - retry one by one to isolate the failing note
            for note in notes:
                try:
                    result.done.extend(self._run_stages([note]))
                except Exception as exc:  # noqa: BLE001
                    log.warning("note failed in pipeline", extra={"note_id": note.id, "error": type(exc).__name__})
                    result.failed.append((note, _as_stage_error(exc, note)))
        return result

    def _run_stages(self, notes: list[Note]) -> list[Note]:
        for stage in self.stages:
            notes = stage(notes)
        return notes

    def batches(self, notes: Iterable[Note], size: int) -> Iterator[BatchResult]:
        batch: list[Note] = []
        for note in notes:
            batch.append(note)
            if len(batch) >= size:
                yield self.run(batch)
                batch = []
        if batch:
            yield self.run(batch)


def _as_stage_error(exc: Exception, note: Note) -> StageError:
    if isinstance(exc, StageError):
        return exc
    # The message names the exception type only: exception text may quote note content.
    return StageError(f"{type(exc).__name__} while processing", location=f"note {note.id}")
