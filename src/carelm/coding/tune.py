"""Tuning the MiniLM encoder to ICD-10-CM names: contrastive pairs of a synonym and its code's description.

The packaged MiniLM places general sentences well but not the thousands of clinical synonyms of the code set
("Sipple's syndrome" for "Multiple endocrine neoplasia [MEN] type IIA").  :func:`tune_encoder` teaches it
those pairs with an in-batch contrastive loss: each name must be closer to its own code's description than to
the other descriptions of the batch, and the other way round (a symmetric cross-entropy over cosine
similarities scaled by ``scale``).  Batch rows sharing a description are not treated as negatives of each
other.  Everything runs on CPU from local weights; the tuned model is written as a sentence-transformers
folder with ``tune.json`` (base, pairs, hyper-parameters, loss, seconds) beside it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError

MANIFEST = "tune.json"
KIND = "carelm-icd10-encoder"


def tune_encoder(
    out_dir: Path,
    pairs: Sequence[tuple[str, str]],
    *,
    base: str | Path | None = None,
    epochs: int = 1,
    batch_size: int = 64,
    learning_rate: float = 3e-5,
    scale: float = 20.0,
    seed: int = 0,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Tune the encoder at ``base`` (default the packaged MiniLM) on ``(name, code)`` pairs into ``out_dir``.

    ``progress(step, steps, loss)`` is called after every optimiser step.  Returns the manifest.
    """
    import simple_icd_10_cm as icd
    import torch

    from carelm.coding.encoder import load_encoder, model_path

    if epochs < 1 or batch_size < 2 or learning_rate <= 0:
        raise ConfigError("tuning needs epochs >= 1, batch_size >= 2 and a positive learning rate")
    examples = [(name, icd.get_description(code)) for name, code in pairs if name.strip()]
    if len(examples) < batch_size:
        raise ConfigError(f"tuning needs at least batch_size ({batch_size}) pairs, got {len(examples)}")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = _fresh_copy(load_encoder(base))
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    steps = epochs * (len(examples) // batch_size)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1.0 - step / steps)
    )
    started, step, loss_value = time.perf_counter(), 0, float("nan")
    for _ in range(epochs):
        rng.shuffle(examples)
        for first in range(0, len(examples) - batch_size + 1, batch_size):
            names, descriptions = zip(*examples[first : first + batch_size], strict=True)
            loss = _batch_loss(model, list(names), list(descriptions), scale)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step, loss_value = step + 1, float(loss.detach())
            if progress is not None:
                progress(step, steps, loss_value)
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    manifest = {
        "kind": KIND,
        "base": str(base) if base is not None else str(model_path()),
        "pairs": len(examples),
        "epochs": epochs,
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "scale": scale,
        "seed": seed,
        "final_loss": round(loss_value, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _fresh_copy(model: Any) -> Any:
    """A trainable deep copy, so the process-wide cached encoder keeps its weights."""
    import copy

    return copy.deepcopy(model)


def _batch_loss(model: Any, names: list[str], descriptions: list[str], scale: float) -> Any:
    import torch

    tokenize = getattr(model, "preprocess", None) or model.tokenize
    left = torch.nn.functional.normalize(model(tokenize(names))["sentence_embedding"], dim=-1)
    right = torch.nn.functional.normalize(model(tokenize(descriptions))["sentence_embedding"], dim=-1)
    logits = scale * left @ right.T
    ids = {text: number for number, text in enumerate(dict.fromkeys(descriptions))}
    owner = torch.tensor([ids[text] for text in descriptions])
    same = (owner[:, None] == owner[None, :]) & ~torch.eye(len(names), dtype=torch.bool)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(names))
    return (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2
