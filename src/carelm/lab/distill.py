"""Knowledge distillation: a smaller student learns from a trained teacher.

The student is the teacher's architecture with fewer transformer layers, initialised from the teacher: the
embeddings, the head and an evenly spaced subset of the teacher's layers (for 6 → 3 layers: 0, 2, 5 —
first and last always kept; a one-layer student keeps the first).  A mean-pooled classifier's head is then
refitted on the student's own frozen vectors (a linear probe) before distillation starts.  It is trained with

    loss = α · CE(student, gold) + (1 − α) · T² · KL(softmax(teacher / T) ‖ softmax(student / T))

on the teacher's training data (classification over texts; NER over sub-words, ignored positions masked).
The teacher's logits are computed once, before training, and stored with the items.
:func:`distill` returns both models' scores and speeds on the dev split.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.lab.modeling import ModelCard, load_model, save_model
from carelm.lab.trainer import TrainConfig, Trainer, TrainResult

TEACHER = "teacher_logits"  # the item key holding the teacher's logits


def kept_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced teacher layer indices for the student, first and last included."""
    if not 1 <= student_layers <= teacher_layers:
        raise ConfigError(f"student layers must be between 1 and the teacher's {teacher_layers}")
    if student_layers == 1:
        return [0]  # the layer trained on the embeddings' output, which is what a one-layer student sees
    step = (teacher_layers - 1) / (student_layers - 1)
    return sorted({round(i * step) for i in range(student_layers)})


def make_student(teacher: Any, student_layers: int) -> Any:
    """A copy of ``teacher`` keeping :func:`kept_layers` of its encoder layers."""
    import torch

    encoder = _encoder_layers(teacher)
    keep = kept_layers(len(encoder), student_layers)
    student = copy.deepcopy(teacher)
    layers = _encoder_layers(student)
    kept = torch.nn.ModuleList([layers[i] for i in keep])
    _set_encoder_layers(student, kept)
    student.config.num_hidden_layers = len(keep)
    return student


def _encoder_layers(model: Any) -> Any:
    base = getattr(model, model.base_model_prefix)
    if hasattr(base, "encoder") and hasattr(base.encoder, "layer"):
        return base.encoder.layer
    raise ConfigError(f"distillation supports BERT-style encoders, not {type(model).__name__}")


def _set_encoder_layers(model: Any, layers: Any) -> None:
    getattr(model, model.base_model_prefix).encoder.layer = layers


def distillation_loss(
    student_logits: Any, teacher_logits: Any, labels: Any, alpha: float, temperature: float, multilabel: bool
) -> Any:
    """α·CE + (1−α)·T²·KL over the positions whose label is not ignored (-100)."""
    import torch
    import torch.nn.functional as F

    if multilabel:
        hard = F.binary_cross_entropy_with_logits(student_logits, labels)
        soft_teacher = torch.sigmoid(teacher_logits / temperature)
        soft = F.binary_cross_entropy_with_logits(student_logits / temperature, soft_teacher)
        return alpha * hard + (1 - alpha) * temperature**2 * soft
    classes = student_logits.shape[-1]
    student_flat, teacher_flat, gold = (
        student_logits.reshape(-1, classes),
        teacher_logits.reshape(-1, classes),
        labels.reshape(-1),
    )
    kept = gold != -100
    student_flat, teacher_flat, gold = student_flat[kept], teacher_flat[kept], gold[kept]
    hard = F.cross_entropy(student_flat, gold)
    soft = F.kl_div(
        F.log_softmax(student_flat / temperature, dim=-1),
        F.log_softmax(teacher_flat / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * hard + (1 - alpha) * temperature**2 * soft


def distill(
    teacher_dir: Path,
    train: Sequence[Any],
    out_dir: Path,
    *,
    student_layers: int | None = None,
    alpha: float = 0.5,
    temperature: float = 2.0,
    config: TrainConfig | None = None,
    dev: Sequence[Any] | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
    resume: bool = True,
) -> tuple[TrainResult, dict[str, Any]]:
    """Distil the classifier or tagger in ``teacher_dir`` into a student in ``out_dir``.

    ``train``/``dev`` are the teacher task's examples (``dev`` defaults to a split of ``train``).  Returns the
    student's training result and ``{"teacher": {...}, "student": {...}}`` with score and items per second.
    """
    from carelm.lab import classify, ner
    from carelm.lab.data import split_examples

    if not 0 <= alpha <= 1 or temperature <= 0:
        raise ConfigError("alpha must be in [0, 1] and temperature positive")
    card = ModelCard.load(teacher_dir)
    if card.task not in ("classify", "ner"):
        raise ConfigError(f"distillation works on classify and ner models, not {card.task}")
    task = classify if card.task == "classify" else ner
    teacher, tokenizer, _ = load_model(teacher_dir, task.AUTO_CLASS)
    layers = student_layers or max(1, len(_encoder_layers(teacher)) // 2)
    config = config or TrainConfig(max_length=card.max_length)
    shape = {key: card.params[key] for key in ("windows", "pooling", "pack") if key in card.params}
    student_card = ModelCard(card.task, card.labels, card.multilabel, config.max_length, str(teacher_dir))
    student_card.params, student_card.parent = {**config.to_dict(), **shape}, str(teacher_dir)
    if dev is None and config.dev_fraction > 0:
        if card.task == "classify":
            train, dev = split_examples(list(train), config.dev_fraction, config.seed)
        else:
            train, dev = ner.split_dev(train, config.dev_fraction, config.seed, bool(shape.get("pack")))
    if card.task == "classify":
        items = classify.training_items(tokenizer, train, student_card)
    else:
        items = ner.card_items(tokenizer, train, student_card)
    student = make_student(teacher, layers)
    if card.task == "classify" and hasattr(student, "pooled"):
        # the kept layers feed the head other vectors than the teacher's: refit it on them before distilling
        classify.fit_head(student, items, card.multilabel, pad_id=tokenizer.pad_token_id)
    teacher.eval()
    teacher_logits(teacher, items, tokenizer.pad_token_id)

    def collate(batch: list[dict]) -> dict[str, Any]:
        import torch

        plain = [{key: value for key, value in item.items() if key != TEACHER} for item in batch]
        padded = classify.pad(plain, tokenizer.pad_token_id)
        rows = [item[TEACHER] for item in batch]
        if rows[0].dim() == 2:  # one row per sub-word: pad the positions (their labels are ignored)
            width = padded["input_ids"].shape[1]
            rows = [torch.nn.functional.pad(row, (0, 0, 0, width - row.shape[0])) for row in rows]
        padded[TEACHER] = torch.stack(rows)
        return padded

    def loss_fn(model: Any, batch: dict[str, Any]) -> Any:
        labels, soft = batch.pop("labels"), batch.pop(TEACHER)
        return distillation_loss(model(**batch).logits, soft, labels, alpha, temperature, card.multilabel)

    def evaluate(model: Any) -> dict[str, Any]:
        return task.score(model, tokenizer, student_card, dev or [])

    metric = "macro_f1" if card.task == "classify" else "f1"
    trainer = Trainer(
        student,
        config,
        Path(out_dir),
        collate,
        evaluate if dev else None,
        metric=metric,
        greater_is_better=True,
        loss_fn=loss_fn,
        progress=progress,
    )
    fit = trainer.fit(items, resume=resume)
    student_card.params.update(
        alpha=alpha,
        temperature=temperature,
        student_layers=layers,
        kept_layers=kept_layers(len(_encoder_layers(teacher)), layers),
    )
    comparison = {
        "teacher": measure(task, teacher, tokenizer, card, dev or train),
        "student": measure(task, student, tokenizer, student_card, dev or train),
    }
    student_card.metrics = {
        "dev": comparison["student"]["score"],
        "teacher_dev": comparison["teacher"]["score"],
        "best_epoch": fit.best_epoch,
    }
    save_model(Path(out_dir), student, tokenizer, student_card)
    trainer.finish()
    return TrainResult(Path(out_dir), student_card, fit, len(train), len(dev or [])), comparison


def teacher_logits(teacher: Any, items: list[dict], pad_id: int, batch_size: int = 32) -> None:
    """Store the teacher's logits in every item (``item[TEACHER]``), computed once for the whole run rather
    than again in every epoch: the teacher is frozen and in eval mode, so they never change."""
    import torch

    from carelm.lab.classify import pad

    order = sorted(range(len(items)), key=lambda i: len(items[i]["input_ids"]))
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            batch = pad([{k: items[i][k] for k in ("input_ids", "attention_mask")} for i in chunk], pad_id)
            logits = teacher(**batch).logits.float()
            for row, index in enumerate(chunk):
                found = logits[row]
                items[index][TEACHER] = found[: len(items[index]["input_ids"])].clone() if found.dim() == 2 else found


def measure(task: Any, model: Any, tokenizer: Any, card: ModelCard, examples: Sequence[Any]) -> dict[str, Any]:
    """Score and inference speed (examples per second, one thread of work after a warm-up) on ``examples``."""
    task.score(model, tokenizer, card, examples[:4])
    started = time.perf_counter()
    found = task.score(model, tokenizer, card, examples)
    seconds = time.perf_counter() - started
    return {
        "score": found,
        "seconds": round(seconds, 3),
        "per_second": round(len(examples) / seconds, 1),
        "layers": len(_encoder_layers(model)),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
