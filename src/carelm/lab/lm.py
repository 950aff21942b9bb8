"""A small causal language model pretrained from scratch (GPT-2 architecture, sized for a CPU).

Texts (de-identified notes from the store, or any text file) are split into a training part and a held-out
slice *by text*, tokenised with the MiniLM WordPiece tokenizer, joined with ``[SEP]`` and cut into blocks of
``max_length`` tokens.  The model is evaluated by perplexity (``exp`` of the mean token loss) on the held-out
slice after every epoch; the best epoch is kept.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.lab.classify import pad
from carelm.lab.modeling import Base, ModelCard, build_model, load_tokenizer, resolve_base
from carelm.lab.trainer import TrainConfig, Trainer, TrainResult, train_and_save

AUTO_CLASS = "AutoModelForCausalLM"
# GPT-2 sized for a laptop CPU: 4 layers of width 256 (about 11M parameters with the 30k WordPiece vocabulary).
SMALL = {"model_type": "gpt2", "n_embd": 256, "n_layer": 4, "n_head": 4}


def blocks(tokenizer: Any, texts: Sequence[str], length: int) -> list[dict[str, list[int]]]:
    """Token blocks of exactly ``length`` ids (the tail shorter than a block is dropped unless it is all)."""
    stream: list[int] = []
    for text in texts:
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    cut = [stream[i : i + length] for i in range(0, len(stream), length)]
    if len(cut) > 1 and len(cut[-1]) < length:
        cut.pop()
    return [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)} for ids in cut]


def perplexity(model: Any, items: Sequence[dict], pad_id: int, batch_size: int = 8) -> dict[str, float]:
    """Mean token loss and perplexity of ``model`` on ``items`` (blocks padded with ``pad_id``)."""
    import torch

    total, tokens = 0.0, 0
    with torch.inference_mode():
        for first in range(0, len(items), batch_size):
            batch = pad(list(items[first : first + batch_size]), pad_id)
            count = int((batch["labels"][:, 1:] != -100).sum())
            total += float(model(**batch).loss) * count
            tokens += count
    loss = total / max(tokens, 1)
    return {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50.0)), 3)}


def train_lm(
    texts: Sequence[str],
    out_dir: Path,
    *,
    base: str | Path | None = None,
    config: TrainConfig | None = None,
    progress: Callable[[int, int, float, float], None] | None = None,
    resume: bool = True,
) -> TrainResult:
    """Pretrain a causal LM on ``texts`` (``base``: a GPT-2 ``.json`` configuration or a model folder to continue
    from; default :data:`SMALL`)."""
    from carelm.coding.encoder import model_path

    config = config or TrainConfig(learning_rate=5e-4, epochs=3, batch_size=8, max_length=128)
    texts = [text for text in texts if text.strip()]
    if len(texts) < 2:
        raise ConfigError("language-model training needs at least two non-empty texts")
    resolved = resolve_base(base) if base is not None else Base("gpt2-small-cpu", None, model_path(), SMALL)
    tokenizer = load_tokenizer(resolved.tokenizer)
    order = list(range(len(texts)))
    random.Random(config.seed).shuffle(order)
    held = max(1, round(len(texts) * config.dev_fraction)) if config.dev_fraction > 0 else 0
    dev_texts = [texts[i] for i in order[:held]]
    train_texts = [texts[i] for i in order[held:]]
    options = (
        {
            "vocab_size": len(tokenizer),
            "n_positions": max(config.max_length, 8),
            "bos_token_id": tokenizer.cls_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if resolved.weights is None
        else {}
    )
    model = build_model(resolved, AUTO_CLASS, config.seed, **options)
    train_items = blocks(tokenizer, train_texts, config.max_length)
    dev_items = blocks(tokenizer, dev_texts, config.max_length) if dev_texts else []
    card = ModelCard(
        "lm",
        [],
        False,
        config.max_length,
        resolved.name,
        {
            **config.to_dict(),
            "architecture": {
                k: v
                for k, v in model.config.to_dict().items()
                if k in ("n_embd", "n_layer", "n_head", "n_positions", "vocab_size")
            },
        },
    )
    trainer = Trainer(
        model,
        config,
        Path(out_dir),
        lambda batch: pad(batch, tokenizer.pad_token_id),
        (lambda m: perplexity(m, dev_items, tokenizer.pad_token_id)) if dev_items else None,
        metric="perplexity",
        greater_is_better=False,
        progress=progress,
    )
    return train_and_save(
        trainer,
        train_items,
        tokenizer=tokenizer,
        card=card,
        resume=resume,
        counts=(len(train_texts), len(dev_texts)),
        extra={"train_blocks": len(train_items), "dev_blocks": len(dev_items), "dev_texts": len(dev_texts)},
    )
