"""Model-lab commands: ``train classify|ner|lm``, ``distill``, ``eval``, ``predict``, ``export``, ``models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from carelm.cli.common import DbOption, console, err_console, handle_errors, make_context, progress_display
from carelm.core.errors import InputError
from carelm.service import lab as lab_service

train_app = typer.Typer(help="Train models on files or on the store's de-identified notes.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)

Name = Annotated[str, typer.Option("--name", help="Registry name of the new model.")]
Base = Annotated[
    str | None,
    typer.Option(
        help="Base: 'minilm' (default), a model folder, a registered model or a "
        "transformers config .json (a model from scratch)."
    ),
]
Dev = Annotated[Path | None, typer.Option(help="Dev file for early stopping (default: a split of the data).")]
Epochs = Annotated[int, typer.Option(min=1, help="Maximum epochs.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Examples per step.")]
LearningRate = Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate (AdamW, linear decay).")]
MaxLength = Annotated[int, typer.Option(min=8, help="Maximum tokens per example.")]
Seed = Annotated[int, typer.Option(help="Random seed (data order, initialisation, split).")]
Patience = Annotated[int, typer.Option(min=1, help="Stop after this many epochs without dev improvement.")]
DevFraction = Annotated[
    float, typer.Option(min=0.0, max=0.9, help="Share of the data held out as dev when --dev is not given.")
]
MaxSteps = Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps.")]
Resume = Annotated[
    bool, typer.Option("--resume/--restart", help="Resume an interrupted run of the same name from its checkpoint.")
]
Format = Annotated[str | None, typer.Option(help="conll or pubtator (default: .txt is PubTator, else CoNLL).")]
TextField = Annotated[str, typer.Option(help="Field (JSONL) or column (CSV) holding the text.")]
LabelField = Annotated[str, typer.Option(help="Field or column holding the label(s).")]


def _config(
    epochs: int,
    batch_size: int,
    lr: float,
    max_length: int,
    seed: int,
    patience: int,
    dev_fraction: float,
    max_steps: int | None,
) -> Any:
    from carelm.lab.trainer import TrainConfig

    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        max_length=max_length,
        seed=seed,
        patience=patience,
        dev_fraction=dev_fraction,
        max_steps=max_steps,
    )


class _TrainingBar:
    """A rich bar showing step, loss and examples per second."""

    def __enter__(self) -> _TrainingBar:
        self._display = progress_display()
        self._progress = self._display.__enter__()
        self._task = self._progress.add_task("training", total=None)
        return self

    def __call__(self, step: int, steps: int, loss: float, rate: float) -> None:
        self._progress.update(
            self._task, completed=step, total=steps, description=f"training  loss {loss:.4f}  {rate:.1f} ex/s"
        )

    def __exit__(self, *exc: Any) -> None:
        self._display.__exit__(*exc)


def _print_trained(entry: Any, result: Any) -> None:
    fit = result.fit
    resumed = f", resumed from step {fit.resumed_from}" if fit.resumed_from else ""
    early = ", stopped early" if fit.stopped_early else ""
    console.print(
        f"registered {entry.name}:{entry.version} ({entry.task}) at {entry.path}", highlight=False, soft_wrap=True
    )
    console.print(
        f"{result.train_count} training / {result.dev_count} dev examples, {fit.steps} steps, "
        f"{fit.epochs_run} epoch(s){resumed}{early}, {fit.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    console.print(json.dumps(result.card.metrics, indent=2, default=str), highlight=False, soft_wrap=True)


@train_app.command("classify")
@handle_errors
def train_classify(
    data: Annotated[Path, typer.Argument(help="JSONL ({text, label} or {text, labels: [...]}) or CSV file.")],
    name: Name,
    dev: Dev = None,
    base: Base = None,
    text_field: TextField = "text",
    label_field: LabelField = "label",
    epochs: Epochs = 3,
    batch_size: BatchSize = 16,
    lr: LearningRate = 5e-5,
    max_length: MaxLength = 256,
    seed: Seed = 13,
    patience: Patience = 2,
    dev_fraction: DevFraction = 0.1,
    max_steps: MaxSteps = None,
    windows: Annotated[
        int,
        typer.Option(
            min=1, help="Read a long text as up to this many windows of --max-length tokens (1: truncate it)."
        ),
    ] = 1,
    resume: Resume = True,
    db: DbOption = None,
) -> None:
    """Fine-tune a text classifier (single- or multi-label) and register it."""
    ctx = make_context(db)
    config = _config(epochs, batch_size, lr, max_length, seed, patience, dev_fraction, max_steps)
    with _TrainingBar() as bar:
        entry, result = lab_service.train_classify(
            ctx,
            name,
            data,
            dev=dev,
            base=base,
            config=config,
            text_field=text_field,
            label_field=label_field,
            windows=windows,
            progress=bar,
            resume=resume,
        )
    _print_trained(entry, result)
    ctx.close()


@train_app.command("ner")
@handle_errors
def train_ner(
    data: Annotated[Path, typer.Argument(help="CoNLL/IOB (token TAB tag) or PubTator file.")],
    name: Name,
    dev: Dev = None,
    format: Format = None,
    base: Base = None,
    epochs: Epochs = 3,
    batch_size: BatchSize = 16,
    lr: LearningRate = 5e-5,
    max_length: MaxLength = 256,
    seed: Seed = 13,
    patience: Patience = 2,
    dev_fraction: DevFraction = 0.1,
    max_steps: MaxSteps = None,
    pack: Annotated[
        bool,
        typer.Option(
            "--pack/--no-pack",
            help="Train and tag consecutive sentences together, as document context (sentences in document order).",
        ),
    ] = True,
    resume: Resume = True,
    db: DbOption = None,
) -> None:
    """Fine-tune a named-entity tagger and register it."""
    ctx = make_context(db)
    config = _config(epochs, batch_size, lr, max_length, seed, patience, dev_fraction, max_steps)
    with _TrainingBar() as bar:
        entry, result = lab_service.train_ner(
            ctx, name, data, dev=dev, format=format, base=base, config=config, pack=pack, progress=bar, resume=resume
        )
    _print_trained(entry, result)
    ctx.close()


@train_app.command("lm")
@handle_errors
def train_lm(
    name: Name,
    base: Annotated[
        str | None,
        typer.Option(
            help="A GPT-2 config .json or a model folder to continue (default: a 4-layer GPT-2 sized for CPU)."
        ),
    ] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only notes of this kind (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(min=2, help="At most this many notes.")] = None,
    epochs: Epochs = 3,
    batch_size: BatchSize = 8,
    lr: LearningRate = 5e-4,
    max_length: MaxLength = 128,
    seed: Seed = 13,
    patience: Patience = 2,
    dev_fraction: DevFraction = 0.1,
    max_steps: MaxSteps = None,
    resume: Resume = True,
    db: DbOption = None,
) -> None:
    """Pretrain a small causal language model on the store's de-identified notes; reports held-out perplexity."""
    ctx = make_context(db)
    config = _config(epochs, batch_size, lr, max_length, seed, patience, dev_fraction, max_steps)
    with _TrainingBar() as bar:
        entry, result = lab_service.train_lm(
            ctx, name, base=base, config=config, kinds=tuple(kind or ()), limit=limit, progress=bar, resume=resume
        )
    _print_trained(entry, result)
    ctx.close()


@handle_errors
def distill(
    teacher: Annotated[str, typer.Argument(help="Teacher: a registered model (name or name:version) or folder.")],
    data: Annotated[Path, typer.Option("--data", help="The teacher task's training data.")],
    name: Name,
    dev: Dev = None,
    format: Format = None,
    layers: Annotated[int | None, typer.Option(min=1, help="Student layers (default: half the teacher's).")] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="Weight of the gold-label loss.")] = 0.5,
    temperature: Annotated[float, typer.Option(min=0.01, help="Softening temperature T.")] = 2.0,
    text_field: TextField = "text",
    label_field: LabelField = "label",
    epochs: Epochs = 3,
    batch_size: BatchSize = 16,
    lr: LearningRate = 5e-5,
    max_length: MaxLength = 256,
    seed: Seed = 13,
    patience: Patience = 2,
    dev_fraction: DevFraction = 0.1,
    max_steps: MaxSteps = None,
    resume: Resume = True,
    db: DbOption = None,
) -> None:
    """Distil a classifier or tagger into a smaller student; prints the speed and score of both."""
    ctx = make_context(db)
    config = _config(epochs, batch_size, lr, max_length, seed, patience, dev_fraction, max_steps)
    with _TrainingBar() as bar:
        entry, result, comparison = lab_service.distill(
            ctx,
            teacher,
            name,
            data,
            dev=dev,
            format=format,
            student_layers=layers,
            alpha=alpha,
            temperature=temperature,
            config=config,
            text_field=text_field,
            label_field=label_field,
            progress=bar,
            resume=resume,
        )
    _print_trained(entry, result)
    teacher_speed, student_speed = comparison["teacher"]["per_second"], comparison["student"]["per_second"]
    console.print(
        f"speed-up {student_speed / teacher_speed:.2f}x ({teacher_speed} -> {student_speed} examples/s)",
        highlight=False,
        soft_wrap=True,
    )
    ctx.close()


@handle_errors
def evaluate(
    model: Annotated[str, typer.Argument(help="A registered model (name or name:version) or a model folder.")],
    data: Annotated[Path, typer.Option("--data", help="Labelled data in the model's training format.")],
    report: Annotated[Path, typer.Option("--report", help="Folder for metrics.json and the plots.")],
    format: Format = None,
    backend: Annotated[str, typer.Option(help="torch, onnx or onnx-int8 (after carelm export).")] = "torch",
    text_field: TextField = "text",
    label_field: LabelField = "label",
    db: DbOption = None,
) -> None:
    """Score a model: accuracy, P/R/F1 (micro, macro, per class; entity-level for NER), confusion and calibration
    plots."""
    ctx = make_context(db)
    out = lab_service.evaluate(
        ctx, model, data, report, format=format, backend=backend, text_field=text_field, label_field=label_field
    )
    figures = {
        key: out["report"][key] for key in ("accuracy", "precision", "recall", "f1", "examples") if key in out["report"]
    }
    for average in ("micro", "macro"):
        if isinstance(out["report"].get(average), dict):
            figures[f"{average}_f1"] = out["report"][average].get("f1")
    console.print(json.dumps(figures, indent=2), highlight=False, soft_wrap=True)
    console.print(
        f"report written to {report}: {', '.join(Path(p).name for p in out['files'])}", highlight=False, soft_wrap=True
    )
    ctx.close()


@handle_errors
def predict(
    model: Annotated[str, typer.Argument(help="A registered model (name or name:version) or a model folder.")],
    in_jsonl: Annotated[Path, typer.Option("--in-jsonl", help="JSONL of {id, text}.")],
    out_jsonl: Annotated[Path, typer.Option("--out-jsonl", help="JSONL of {id, label, scores} or {id, mentions}.")],
    backend: Annotated[str, typer.Option(help="torch, onnx or onnx-int8 (after carelm export).")] = "torch",
    db: DbOption = None,
) -> None:
    """Predict labels or entity mentions for every line of a JSONL file."""
    from carelm.cli.common import stream_jsonl

    ctx = make_context(db)
    predictor = lab_service.predictor_for(ctx, model, backend)
    total, errors = stream_jsonl(
        in_jsonl, out_jsonl, "predicting", lambda lines, name: lab_service.predict_lines(predictor, lines, name)
    )
    console.print(f"wrote {total} line(s) to {out_jsonl}; {errors} could not be read")
    ctx.close()
    if errors:
        err_console.print("lines that could not be read carry an 'error' field")
        raise typer.Exit(1)


@handle_errors
def export(
    model: Annotated[str, typer.Argument(help="A registered model (name or name:version) or a model folder.")],
    int8: Annotated[
        bool, typer.Option("--int8", help="Also write model.int8.onnx, 8-bit quantised (backend onnx-int8).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Export a classifier or tagger to ONNX (model.onnx in its folder), checked against torch within 1e-4."""
    ctx = make_context(db)
    found = lab_service.export(ctx, model, int8=int8)
    console.print(
        f"wrote {found['path']} (largest difference from torch {found['max_abs_difference']:.2e})",
        highlight=False,
        soft_wrap=True,
    )
    if "int8" in found:
        console.print(
            f"wrote {found['int8']['path']} (8-bit; largest difference {found['int8']['max_abs_difference']:.2e}: "
            "measure its score with carelm eval --backend onnx-int8)",
            highlight=False,
            soft_wrap=True,
        )
    ctx.close()


@models_app.command("list")
@handle_errors
def list_models(
    name: Annotated[str | None, typer.Option(help="Only this name.")] = None,
    task: Annotated[str | None, typer.Option(help="Only this task.")] = None,
    db: DbOption = None,
) -> None:
    """Registered models with task, status, records in their training snapshot and headline metrics."""
    from rich.table import Table

    ctx = make_context(db)
    table = Table("name", "version", "task", "status", "records", "created", "path")
    for entry in ctx.store.models.list(name=name, task=task):
        table.add_row(
            entry.name,
            str(entry.version),
            entry.task,
            entry.status,
            str(entry.record_count),
            str(entry.created_at)[:19],
            entry.path,
        )
    console.print(table)
    ctx.close()


@models_app.command("show")
@handle_errors
def show_model(
    model: Annotated[str, typer.Argument(help="name or name:version")],
    db: DbOption = None,
) -> None:
    """One registered model in full, with the ids of the records it was trained on."""
    ctx = make_context(db)
    resolved = lab_service.resolve_model(ctx, model)
    if resolved.entry is None:
        raise InputError("not a registered model", location=model)
    body = resolved.entry.to_dict()
    body["training_records"] = ctx.store.models.training_records(resolved.entry.id)
    console.print(json.dumps(body, indent=2, default=str), highlight=False, soft_wrap=True)
    ctx.close()


def register(app: typer.Typer) -> None:
    """Add the model-lab commands to the ``carelm`` command line."""
    app.add_typer(train_app, name="train")
    app.add_typer(models_app, name="models")
    app.command("distill")(distill)
    app.command("eval")(evaluate)
    app.command("predict")(predict)
    app.command("export")(export)
