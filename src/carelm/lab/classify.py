"""Text classification (single- or multi-label) on a transformers encoder.

:func:`train_classifier` fine-tunes a base (MiniLM by default) on :class:`carelm.lab.data.ClassifyExample`
items, early-stopping on macro-F1 of a dev split, and writes a carelm model folder.  :func:`predict_texts`
gives each text its label (or labels) and the score of every label; it serves ``carelm predict``,
``carelm eval``, distillation and the API.

A text longer than ``max_length`` sub-words is either truncated (``windows=1``) or cut into up to
``windows`` equal windows that together cover its first ``windows × (max_length − 2)`` sub-words.  Each
window is a training item carrying its text's labels, and a text's logits are the mean of its windows'
logits, so a clinical note is judged on its whole body, not on its opening lines.

The head reads the mean of the token vectors (``pooling="mean"``, :mod:`carelm.lab.pooling`), the vector a
sentence encoder such as MiniLM was trained to produce, or BERT's ``[CLS]`` pooler (``"cls"``).  With mean
pooling over a pretrained encoder, training first fits the head alone on the frozen encoder (a linear probe,
:func:`fit_head`), scores that as epoch 0, then fine-tunes the whole model; the best epoch on dev is kept, so
fine-tuning can only replace the probe by something better on dev.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.lab.modeling import MEAN_POOLED, ModelCard, base_model_type, build_model, load_tokenizer, resolve_base
from carelm.lab.trainer import TrainConfig, Trainer, TrainResult, train_and_save

AUTO_CLASS = "AutoModelForSequenceClassification"
THRESHOLD = 0.5  # multi-label: a label is predicted when its sigmoid score reaches this
HEAD_L2 = 1e-6  # the linear probe's weight penalty (per squared weight, beside the mean loss)
POOLINGS = ("mean", "cls")  # the text vector the head reads: mean of the token vectors, or [CLS] + pooler


def encode(
    tokenizer: Any, texts: Sequence[str], max_length: int, windows: int = 1
) -> tuple[list[dict[str, list[int]]], list[int]]:
    """Token ids and attention masks of the windows of ``texts`` (see the module docstring), and the index
    of the text each window belongs to."""
    import math

    if windows <= 1:
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
        items = [
            {"input_ids": ids, "attention_mask": mask}
            for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"], strict=True)
        ]
        return items, list(range(len(items)))
    body = max_length - 2
    pieces = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=body * windows)["input_ids"]
    first_id, last_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    prefix, suffix = [first_id] if first_id is not None else [], [last_id] if last_id is not None else []
    items, owners = [], []
    for number, ids in enumerate(pieces):
        count = max(1, math.ceil(len(ids) / body))
        size = max(1, math.ceil(len(ids) / count))
        for first in range(0, max(1, len(ids)), size):
            window = prefix + ids[first : first + size] + suffix
            items.append({"input_ids": window, "attention_mask": [1] * len(window)})
            owners.append(number)
    return items, owners


def training_items(tokenizer: Any, examples: Sequence[Any], card: ModelCard) -> list[dict]:
    """Encoded windows of ``examples``, each with its text's labels."""
    items, owners = encode(tokenizer, [e.text for e in examples], card.max_length, windows_of(card))
    return with_labels(items, [examples[i] for i in owners], card.labels, card.multilabel)


def windows_of(card: ModelCard) -> int:
    return int(card.params.get("windows", 1))


def pad(items: list[dict], pad_id: int) -> dict[str, Any]:
    """Pad ``input_ids``/``attention_mask`` (and any ``labels``) of ``items`` into tensors."""
    import torch

    width = max(len(item["input_ids"]) for item in items)
    batch = {
        "input_ids": torch.tensor([item["input_ids"] + [pad_id] * (width - len(item["input_ids"])) for item in items]),
        "attention_mask": torch.tensor(
            [item["attention_mask"] + [0] * (width - len(item["attention_mask"])) for item in items]
        ),
    }
    if "labels" in items[0]:
        labels = [item["labels"] for item in items]
        if isinstance(labels[0], list) and len(labels[0]) and isinstance(labels[0][0], float):
            batch["labels"] = torch.tensor(labels, dtype=torch.float32)
        elif isinstance(labels[0], list):
            batch["labels"] = torch.tensor([row + [-100] * (width - len(row)) for row in labels])
        else:
            batch["labels"] = torch.tensor(labels)
    return batch


def train_classifier(
    train: Sequence[Any],
    out_dir: Path,
    *,
    base: str | Path | None = None,
    config: TrainConfig | None = None,
    dev: Sequence[Any] | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
    windows: int = 1,
    pooling: str = "mean",
    resume: bool = True,
) -> TrainResult:
    """Fine-tune a classifier on ``train`` (``ClassifyExample``s); ``dev`` defaults to a split of ``train``."""
    from carelm.lab.data import is_multilabel, label_set, split_examples

    config = config or TrainConfig()
    if dev is None and config.dev_fraction > 0:
        train, dev = split_examples(list(train), config.dev_fraction, config.seed)
    labels = label_set(list(train) + list(dev or []))
    if len(labels) < 2:
        raise ConfigError("classification needs at least two labels in the training data")
    multilabel = is_multilabel(list(train) + list(dev or []))
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}")
    resolved = resolve_base(base)
    if pooling == "mean" and base_model_type(resolved) != "bert":
        pooling = "cls"  # the mean-pooled head is written for BERT-style encoders
    tokenizer = load_tokenizer(resolved.tokenizer)
    model = build_model(
        resolved,
        MEAN_POOLED if pooling == "mean" else AUTO_CLASS,
        config.seed,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification" if multilabel else "single_label_classification",
    )
    if multilabel:
        prior_bias(model, train, labels)
    if windows < 1:
        raise ConfigError("windows must be at least 1")
    params = {**config.to_dict(), "windows": windows, "pooling": pooling}
    card = ModelCard("classify", labels, multilabel, config.max_length, resolved.name, params)
    items = training_items(tokenizer, train, card)
    probe = pooling == "mean" and resolved.weights is not None
    if probe:  # a pretrained encoder: fit the head on its frozen vectors before fine-tuning everything
        fit_head(model, items, multilabel, pad_id=tokenizer.pad_token_id)

    def evaluate(model: Any) -> dict[str, Any]:
        return score(model, tokenizer, card, dev or [])

    trainer = Trainer(
        model,
        config,
        Path(out_dir),
        lambda batch: pad(batch, tokenizer.pad_token_id),
        evaluate if dev else None,
        metric="macro_f1",
        greater_is_better=True,
        progress=progress,
        evaluate_start=probe,
    )
    return train_and_save(
        trainer,
        items,
        tokenizer=tokenizer,
        card=card,
        resume=resume,
        counts=(len(train), len(dev or [])),
    )


def fit_head(
    model: Any, items: list[dict], multilabel: bool, *, pad_id: int, l2: float = HEAD_L2, batch_size: int = 32
) -> None:
    """Fit the linear head of a mean-pooled classifier on the frozen encoder's vectors of ``items`` (a linear
    probe, by L-BFGS on the full set), so fine-tuning starts from a head that already separates the labels
    instead of a random one that the encoder's updates must first make up for."""
    import torch
    import torch.nn.functional as F

    model.eval()
    features = []
    with torch.inference_mode():
        for first in range(0, len(items), batch_size):
            batch = pad(items[first : first + batch_size], pad_id)
            features.append(model.pooled(batch["input_ids"], batch["attention_mask"]))
    vectors = torch.cat(features).float()
    head = model.classifier
    weight = head.weight.detach().clone().float().requires_grad_(True)
    bias = head.bias.detach().clone().float().requires_grad_(True)
    if multilabel:
        targets = torch.tensor([item["labels"] for item in items], dtype=torch.float32)
    else:
        targets = torch.tensor([item["labels"] for item in items], dtype=torch.long)
    optimiser = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=500, tolerance_grad=1e-7, line_search_fn="strong_wolfe"
    )

    def closure() -> Any:
        optimiser.zero_grad()
        logits = vectors @ weight.T + bias
        if multilabel:
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        else:
            loss = F.cross_entropy(logits, targets)
        loss = loss + l2 * (weight**2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    with torch.no_grad():
        head.weight.copy_(weight.detach().to(head.weight.dtype))
        head.bias.copy_(bias.detach().to(head.bias.dtype))
    model.train()


def prior_bias(model: Any, examples: Sequence[Any], labels: list[str]) -> None:
    """Start a multi-label head at each label's log prior odds (smoothed), not at 0.5 for every label.

    With many labels, most of them rare, a head starting at 0.5 spends its first epochs learning that almost
    every label is absent; starting at the prior it learns what tells the labels apart from the first step.
    """
    import math

    import torch

    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or head.out_features != len(labels) or head.bias is None:
        return
    total = len(examples)
    odds = []
    for label in labels:
        share = (sum(label in example.labels for example in examples) + 1) / (total + 2)
        odds.append(math.log(share / (1 - share)))
    with torch.no_grad():
        head.bias.copy_(torch.tensor(odds, dtype=head.bias.dtype))


def with_labels(items: list[dict], examples: Sequence[Any], labels: list[str], multilabel: bool) -> list[dict]:
    index = {label: i for i, label in enumerate(labels)}
    for item, example in zip(items, examples, strict=True):
        if multilabel:
            item["labels"] = [1.0 if label in example.labels else 0.0 for label in labels]
        else:
            item["labels"] = index[example.labels[0]]
    return items


def logits_of(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, batch_size: int = 32, windows: int = 1
) -> Any:
    """The ``(n, labels)`` logits of ``texts`` (the mean over each text's windows) as a numpy array."""
    import numpy as np
    import torch

    encoded, owners = encode(tokenizer, texts, max_length, windows)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    found = np.zeros((len(encoded), model.config.num_labels), dtype=np.float32)
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            batch = pad([encoded[i] for i in chunk], tokenizer.pad_token_id)
            found[chunk] = model(**batch).logits.float().numpy()
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    np.add.at(out, owners, found)
    return out / np.maximum(np.bincount(owners, minlength=len(texts)), 1)[:, None]


def scores_of(logits: Any, multilabel: bool) -> Any:
    """Probabilities from logits: sigmoid per label (multi-label) or softmax over labels."""
    import numpy as np

    if multilabel:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def decide(scores: Any, labels: list[str], multilabel: bool) -> list[list[str]]:
    """The predicted labels of each row of ``scores`` (at least one, the best, for multi-label)."""
    out = []
    for row in scores:
        if multilabel:
            chosen = [labels[i] for i in range(len(labels)) if row[i] >= THRESHOLD] or [labels[int(row.argmax())]]
        else:
            chosen = [labels[int(row.argmax())]]
        out.append(chosen)
    return out


def predict_texts(model: Any, tokenizer: Any, card: ModelCard, texts: Sequence[str]) -> list[dict[str, Any]]:
    """``{"label", "labels", "scores"}`` for each text (``label`` is the best label)."""
    scores = scores_of(logits_of(model, tokenizer, texts, card.max_length, windows=windows_of(card)), card.multilabel)
    chosen = decide(scores, card.labels, card.multilabel)
    return [
        {
            "label": card.labels[int(row.argmax())],
            "labels": labels,
            "scores": {label: round(float(value), 6) for label, value in zip(card.labels, row, strict=True)},
        }
        for labels, row in zip(chosen, scores, strict=True)
    ]


def score(model: Any, tokenizer: Any, card: ModelCard, examples: Sequence[Any]) -> dict[str, Any]:
    """Accuracy and macro/micro F1 of ``model`` on labelled ``examples``."""
    from carelm.lab.metrics import classification_report, multilabel_report

    if not examples:
        return {}
    logits = logits_of(model, tokenizer, [e.text for e in examples], card.max_length, windows=windows_of(card))
    scores = scores_of(logits, card.multilabel)
    chosen = decide(scores, card.labels, card.multilabel)
    if card.multilabel:
        report = multilabel_report([set(e.labels) for e in examples], [set(c) for c in chosen], card.labels)
    else:
        report = classification_report([e.labels[0] for e in examples], [c[0] for c in chosen], card.labels)
    return summary(report)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a metrics report."""
    found = {"macro_f1": report["macro"]["f1"], "micro_f1": report["micro"]["f1"]}
    for key in ("accuracy", "subset_accuracy"):
        if key in report:
            found[key] = report[key]
    return found
