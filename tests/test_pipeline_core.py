"""The stage registry and the Pipeline: naming, validation, failure isolation, processing runs."""

from __future__ import annotations

import pytest

from carelm.core.errors import PipelineError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import Stage, create_stage, register_stage
from carelm.core.types import Note, Span
from carelm.service.context import Context
from carelm.service.ingest import ingest_payload
from carelm.service.process import load_pipeline, process_notes


@register_stage
class MarkBrokenStage(Stage):
    """A stage used by these tests: it refuses notes containing the word 'BROKEN'."""

    name = "tests.mark_broken.v1"
    reads = ("normalized",)
    writes = ("marks",)

    def __call__(self, notes: list[Note]) -> list[Note]:
        for note in notes:
            if "BROKEN" in note.text:
                raise RuntimeError("cannot handle " + note.text)
            note.layers["marks"] = [Span(0, 1, "mark", stage=self.name)]
        return notes


@pytest.mark.parametrize("name", ["nodots", "carelm.stage", "carelm.stage.one", "carelm.stage.vX"])
def test_stage_names_must_be_versioned(name):
    with pytest.raises(PipelineError):
        register_stage(type("Bad", (Stage,), {"name": name}))


def test_a_name_cannot_be_taken_twice():
    with pytest.raises(PipelineError, match="already registered"):
        register_stage(type("Twin", (Stage,), {"name": "carelm.sections.v1"}))


def test_unknown_stage_and_parameters_name_the_choices():
    with pytest.raises(PipelineError, match="carelm.sentences.v1"):
        create_stage("carelm.nothing.v1")
    with pytest.raises(PipelineError, match="parameters"):
        create_stage("carelm.normalize.v1", colour="red")
    with pytest.raises(PipelineError, match="accepted: \\['rules_path'\\]"):
        create_stage("carelm.sections.v1", colour="red")


def test_validation_names_the_missing_layer():
    with pytest.raises(PipelineError, match="reads \\['normalized'\\]"):
        Pipeline.from_names(["tests.mark_broken.v1"])
    with pytest.raises(PipelineError, match="twice"):
        Pipeline.from_names(["carelm.normalize.v1", "carelm.normalize.v1"])
    with pytest.raises(PipelineError):
        Pipeline([])


def test_config_round_trip_and_fingerprint():
    pipeline = Pipeline.from_names(["carelm.normalize.v1", "carelm.sections.v1", "carelm.sentences.v1",
                                    "carelm.deid.v1", "carelm.terms.v1", "carelm.context.v1", "carelm.icd10.v1"])
    again = Pipeline.from_dict(pipeline.to_dict())
    assert again.to_dict() == pipeline.to_dict() == Pipeline.default().to_dict()
    assert again.fingerprint == pipeline.fingerprint
    assert again.produces() == {"raw", "normalized", "sections", "sentences", "phi", "deid", "mentions", "codes"}
    with pytest.raises(PipelineError):
        Pipeline.from_dict({"stage": []})


def test_a_failing_note_is_isolated_and_the_rest_of_the_batch_is_done():
    pipeline = Pipeline.from_names(["carelm.normalize.v1", "tests.mark_broken.v1"])
    notes = [Note(text="fine one", id="a"), Note(text="BROKEN here", id="b"), Note(text="fine two", id="c")]
    result = pipeline.run(notes)
    assert [n.id for n in result.done] == ["a", "c"]
    assert all(n.layers["marks"] for n in result.done)
    [(failed, error)] = result.failed
    assert failed.id == "b" and "RuntimeError" in error.message and "BROKEN" not in str(error)


def test_process_records_failures_and_retries_them(ctx: Context, tmp_path):
    for i, text in enumerate(["ok note one", "BROKEN note", "ok note two"]):
        ingest_payload(ctx, {"id": f"p{i}", "patient": "P-run", "text": text})
    config = tmp_path / "pipeline.json"
    config.write_text('{"stages": [{"stage": "carelm.normalize.v1"}, {"stage": "tests.mark_broken.v1"}]}')
    pipeline = load_pipeline(config)
    first = process_notes(ctx, pipeline)
    assert (first.notes_done, first.notes_failed) == (2, 1)
    run = ctx.store.runs.latest()[0]
    assert (run["status"], run["notes_done"], run["notes_failed"]) == ("done", 2, 1)
    assert ctx.store.records.count_notes(("failed",)) == 1
    retry = process_notes(ctx, pipeline)
    assert (retry.notes_total, retry.notes_failed) == (1, 1)
    everything = process_notes(ctx, Pipeline.default(), reprocess=True)
    assert (everything.notes_done, everything.notes_failed) == (3, 0)
    assert ctx.store.stats()["annotations"]["marks"] == 2
