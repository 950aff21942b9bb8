"""Model-lab use-cases shared by the CLI and the API: train, distil, evaluate, predict, export, list.

A model trains in ``DATA_DIR/models/<name>/.training`` (where its checkpoint lives, so running the same
command again resumes an interrupted run), then moves to ``DATA_DIR/models/<name>/v<version>`` and is
registered in the store with its hyper-parameters, metrics and lineage: the ids of the stored records whose
notes it learnt from (none for models trained on files).  ``MODEL`` arguments are a registered name
(``name`` for the latest version, ``name:3`` for one) or a model folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError, InputError, NotFoundError
from carelm.lifecycle.access import Permission
from carelm.service.access import require
from carelm.service.context import Context

MODELS_FOLDER = "models"
STAGING = ".training"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Progress = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class ResolvedModel:
    """A model folder and, when it is registered, its registry entry."""

    path: Path
    entry: Any | None = None


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InputError("model names are 1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return name


def staging_dir(ctx: Context, name: str) -> Path:
    """Where ``name`` trains; every training path asks for it first, so this is where training is allowed."""
    require(ctx, Permission.MODELS_TRAIN, target_type="model", target_id=name[:64])
    return ctx.settings.data_dir / MODELS_FOLDER / check_name(name) / STAGING


def resolve_model(ctx: Context, model: str) -> ResolvedModel:
    """A registered ``name[:version]`` or a model folder."""
    path = Path(model)
    if path.is_dir():
        return ResolvedModel(path)
    entry = resolve_registered(ctx, model)
    return ResolvedModel(Path(entry.path), entry)


def _register(
    ctx: Context, name: str, staged: Path, card: Any, record_ids: list[str] = (), parent_id: str | None = None
) -> Any:
    """Move the staged model to its versioned folder and register it."""
    existing = ctx.store.models.list(name=name)
    version = max((entry.version for entry in existing), default=0) + 1
    final = staged.parent / f"v{version}"
    if final.exists():
        shutil.rmtree(final)
    staged.replace(final)
    entry = ctx.store.models.register(
        name,
        card.task,
        str(final.resolve()),
        base=card.base,
        params=card.params,
        metrics=card.metrics,
        labels=card.labels or None,
        record_ids=list(record_ids),
        parent_id=parent_id,
        actor=ctx.actor,
    )
    if entry.version != version:  # another process registered the same name meanwhile
        raise ConfigError(f"model {name} was registered concurrently; retry", location=str(final))
    return entry


def train_classify(
    ctx: Context,
    name: str,
    data: Path,
    *,
    dev: Path | None = None,
    base: str | None = None,
    config: Any = None,
    text_field: str = "text",
    label_field: str = "label",
    windows: int = 1,
    progress: Progress | None = None,
    resume: bool = True,
) -> tuple[Any, Any]:
    """Train and register a text classifier from a JSONL/CSV file; returns ``(entry, TrainResult)``.
    ``windows`` > 1 reads long texts as up to that many windows (see :mod:`carelm.lab.classify`)."""
    from carelm.lab.classify import train_classifier

    train, dev_examples = _task_examples("classify", data, dev, None, text_field, label_field)
    return _train_on_files(
        ctx, name, train_classifier, train, dev_examples, base, config, progress, resume, {"windows": windows}
    )


def read_token_examples(path: Path, format: str | None = None) -> list[Any]:
    """CoNLL/IOB or PubTator examples (``format`` guessed from the extension when None: .txt is PubTator)."""
    from carelm.lab.data import pubtator_to_tokens, read_conll, read_pubtator

    chosen = format or ("pubtator" if path.suffix.lower() == ".txt" else "conll")
    if chosen == "pubtator":
        return pubtator_to_tokens(read_pubtator(path))
    if chosen == "conll":
        return read_conll(path)
    raise InputError(f"unknown NER data format {chosen!r}: use conll or pubtator")


def train_ner(
    ctx: Context,
    name: str,
    data: Path,
    *,
    dev: Path | None = None,
    format: str | None = None,
    base: str | None = None,
    config: Any = None,
    pack: bool = True,
    progress: Progress | None = None,
    resume: bool = True,
) -> tuple[Any, Any]:
    """Train and register a tagger from CoNLL/IOB or PubTator files (sentences in document order; ``pack``
    trains on consecutive sentences together, see :mod:`carelm.lab.ner`)."""
    from carelm.lab.ner import train_tagger

    train, dev_examples = _task_examples("ner", data, dev, format, "text", "label")
    return _train_on_files(ctx, name, train_tagger, train, dev_examples, base, config, progress, resume, {"pack": pack})


def _train_on_files(
    ctx: Context,
    name: str,
    train_fn: Callable[..., Any],
    train: list,
    dev: list | None,
    base: str | None,
    config: Any,
    progress: Progress | None,
    resume: bool,
    options: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Train with ``train_fn`` (a lab task's trainer) in the staging folder, then register the model."""
    result = train_fn(
        train,
        staging_dir(ctx, name),
        base=_base(ctx, base),
        config=config,
        dev=dev,
        progress=progress,
        resume=resume,
        **(options or {}),
    )
    return _register(ctx, name, result.path, result.card), result


def train_lm(
    ctx: Context,
    name: str,
    *,
    base: str | None = None,
    config: Any = None,
    kinds: tuple[str, ...] = (),
    limit: int | None = None,
    progress: Progress | None = None,
    resume: bool = True,
) -> tuple[Any, Any]:
    """Pretrain a causal LM on the store's de-identified notes; the model's lineage is their records."""
    from carelm.lab.lm import train_lm as train

    require(ctx, Permission.MODELS_TRAIN, target_type="model", target_id=name[:64])
    texts, record_ids = [], []
    for item in ctx.store.records.iter_deid_texts(kinds=kinds or None):
        texts.append(item.text)
        record_ids.append(item.record_id)
        if limit is not None and len(texts) >= limit:
            break
    if len(texts) < 2:
        raise InputError("the store holds fewer than two de-identified notes: ingest and process notes first")
    ctx.store.audit.record(
        ctx.actor, "train", "notes", None, purpose="model training", details={"model": name, "notes": len(texts)}
    )
    result = train(
        texts, staging_dir(ctx, name), base=_base(ctx, base), config=config, progress=progress, resume=resume
    )
    return _register(ctx, name, result.path, result.card, record_ids=sorted(set(record_ids))), result


def distill(
    ctx: Context,
    teacher: str,
    name: str,
    data: Path,
    *,
    dev: Path | None = None,
    format: str | None = None,
    student_layers: int | None = None,
    alpha: float = 0.5,
    temperature: float = 2.0,
    config: Any = None,
    text_field: str = "text",
    label_field: str = "label",
    progress: Progress | None = None,
    resume: bool = True,
) -> tuple[Any, Any, dict]:
    """Distil a registered (or folder) classifier/tagger into a smaller registered student."""
    from carelm.lab.distill import distill as run
    from carelm.lab.modeling import ModelCard

    resolved = resolve_model(ctx, teacher)
    card = ModelCard.load(resolved.path)
    train, dev_examples = _task_examples(card.task, data, dev, format, text_field, label_field)
    result, comparison = run(
        resolved.path,
        train,
        staging_dir(ctx, name),
        student_layers=student_layers,
        alpha=alpha,
        temperature=temperature,
        config=config,
        dev=dev_examples,
        progress=progress,
        resume=resume,
    )
    result.card.metrics["comparison"] = comparison
    parent = resolved.entry.id if resolved.entry is not None else None
    lineage = ctx.store.models.training_records(parent) if parent else []
    return _register(ctx, name, result.path, result.card, record_ids=lineage, parent_id=parent), result, comparison


def _task_examples(
    task: str, data: Path, dev: Path | None, format: str | None, text_field: str, label_field: str
) -> tuple[list, list | None]:
    from carelm.lab.data import read_classification

    if task == "classify":
        read = lambda path: read_classification(path, text_field=text_field, label_field=label_field)  # noqa: E731
    else:
        read = lambda path: read_token_examples(path, format)  # noqa: E731
    return read(data), (read(dev) if dev else None)


def evaluate(
    ctx: Context,
    model: str,
    data: Path,
    report_dir: Path,
    *,
    format: str | None = None,
    backend: str = "torch",
    text_field: str = "text",
    label_field: str = "label",
) -> dict[str, Any]:
    """Score a model on labelled data and write ``metrics.json`` and plots into ``report_dir``."""
    from carelm.lab.inference import Predictor
    from carelm.lab.metrics import (
        calibration,
        classification_report,
        entity_report,
        multilabel_report,
        write_report,
    )

    resolved = resolve_model(ctx, model)
    predictor = Predictor(resolved.path, backend)
    card = predictor.card
    examples, _ = _task_examples(card.task, data, None, format, text_field, label_field)
    if card.task == "classify":
        predictions = predictor.predict([example.text for example in examples])
        if card.multilabel:
            report = multilabel_report(
                [set(e.labels) for e in examples], [set(p["labels"]) for p in predictions], card.labels
            )
            cal = None
        else:
            gold = [example.labels[0] for example in examples]
            report = classification_report(gold, [p["label"] for p in predictions], card.labels)
            cal = calibration(
                [max(p["scores"].values()) for p in predictions],
                [p["label"] == g for p, g in zip(predictions, gold, strict=True)],
            )
    else:
        from carelm.lab.ner import tag_words

        tagged = tag_words(predictor.model, predictor.tokenizer, card, [e.tokens for e in examples])
        report = entity_report([list(e.tags) for e in examples], [[t for t, _ in row] for row in tagged])
        cal = None
    report["model"] = {
        "path": str(resolved.path),
        "task": card.task,
        "backend": backend,
        "name": resolved.entry.name if resolved.entry else None,
        "version": resolved.entry.version if resolved.entry else None,
    }
    report["examples"] = len(examples)
    written = write_report(report_dir, report, calibration=cal)
    if resolved.entry is not None:
        ctx.store.models.update_metrics(
            resolved.entry.id, {**resolved.entry.metrics, f"eval:{Path(data).name}": _headline(report)}
        )
    return {"report": report, "files": written}


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("accuracy", "subset_accuracy", "precision", "recall", "f1")
    found = {key: report[key] for key in keys if isinstance(report.get(key), int | float)}
    for average in ("micro", "macro"):
        if isinstance(report.get(average), dict) and "f1" in report[average]:
            found[f"{average}_f1"] = report[average]["f1"]
    return found


def resolve_registered(ctx: Context, model: str) -> Any:
    """The registry entry of ``name[:version]`` (never a folder: the API serves registered models only)."""
    require(ctx, Permission.MODELS_USE, target_type="model", target_id=model[:64])
    name, _, version = model.partition(":")
    if not _NAME.match(name) or (version and not version.isdigit()):
        raise NotFoundError("no such registered model", location=model)
    return ctx.store.models.get(name, int(version) if version else None)


@lru_cache(maxsize=8)
def _predictor(path: str, backend: str) -> Any:
    from carelm.lab.inference import Predictor

    return Predictor(path, backend)


def predictor_for(ctx: Context, model: str, backend: str = "torch") -> Any:
    """A cached predictor of a registered model or folder."""
    resolved = resolve_model(ctx, model)
    return _predictor(str(resolved.path.resolve()), backend)


def export(ctx: Context, model: str, tolerance: float = 1e-4, int8: bool = False) -> dict[str, Any]:
    """Export a classifier or tagger to ONNX in its folder, checked against torch (and an 8-bit copy)."""
    from carelm.lab.inference import export_onnx

    require(ctx, Permission.MODELS_TRAIN, target_type="model", target_id=model[:64])
    return export_onnx(resolve_model(ctx, model).path, tolerance=tolerance, int8=int8)


def _base(ctx: Context, base: str | None) -> str | None:
    """A base given as a registered model name resolves to its folder; paths and 'minilm' pass through."""
    if base is None or base == "minilm" or Path(base).exists():
        return base
    return str(resolve_model(ctx, base).path)


def predict_lines(predictor: Any, lines: Iterable[str], name: str, batch_size: int = 32) -> Iterator[dict]:
    """One output per ``{"id", "text"}`` JSONL line, in order: the prediction, or ``{"id", "error"}``."""
    from carelm.service.jsonl import INVALID, in_batches, json_objects

    def parsed() -> Iterator[tuple[Any, str | None, str | None]]:
        for location, obj in json_objects(lines, name):
            if obj is INVALID:
                yield None, None, f"{location}: not valid JSON"
            elif not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                yield (
                    (obj.get("id") if isinstance(obj, dict) else None),
                    None,
                    (f"{location}: expected an object with a string 'text' (and an 'id')"),
                )
            else:
                yield obj.get("id"), obj["text"], None

    for batch in in_batches(parsed(), batch_size):
        good = [text for _, text, error in batch if error is None]
        predictions = iter(predictor.predict(good)) if good else iter(())
        for item_id, _, error in batch:
            yield {"id": item_id, "error": error} if error else {"id": item_id, **next(predictions)}
