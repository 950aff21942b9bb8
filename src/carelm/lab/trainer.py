"""One training loop for every task: seeds, progress, checkpoints with resume, early stopping on a dev split.

:class:`Trainer` takes a model, encoded training items (dicts of token id lists), a ``collate`` function
that pads a list of items into tensors, and an ``evaluate`` function returning metrics on the dev split.
It trains with AdamW and a linear schedule with warm-up, clips gradients, and:

* checkpoints into ``<out>/checkpoint/`` every ``checkpoint_every`` steps and at each epoch's end (model,
  optimiser, schedule, position in the epoch, best score, random states), written to a temporary file and
  renamed, so an interrupted run (Ctrl-C, a killed process) resumes exactly where the last checkpoint was;
* evaluates after every epoch (and, with ``evaluate_start``, before the first as epoch 0), keeps the best
  weights by ``metric`` and stops after ``patience`` epochs without improvement; the model ends with the
  best weights;
* reports ``progress(step, steps, loss, items_per_second)`` after every step.

Batches are drawn in an order fixed by ``seed`` and the epoch number, so a resumed run sees the same batches
an uninterrupted one would.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint"
STATE_FILE = "state.pt"


@dataclass
class TrainConfig:
    """Hyper-parameters shared by every task."""

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 256
    seed: int = 13
    dev_fraction: float = 0.1
    patience: int = 2
    checkpoint_every: int = 200
    max_steps: int | None = None
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "learning_rate": self.learning_rate > 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "max_length": self.max_length >= 8,
            "dev_fraction": 0 <= self.dev_fraction < 1,
            "patience": self.patience >= 1,
            "checkpoint_every": self.checkpoint_every >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid training settings: {', '.join(bad)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """What a training run did."""

    steps: int
    epochs_run: int
    best_epoch: int | None
    best_score: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int | None = None
    stopped_early: bool = False


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Trains ``model`` on ``items``; see the module docstring."""

    def __init__(
        self,
        model: Any,
        config: TrainConfig,
        out_dir: Path,
        collate: Callable[[list[dict]], dict[str, Any]],
        evaluate: Callable[[Any], dict[str, Any]] | None = None,
        metric: str = "loss",
        greater_is_better: bool = False,
        loss_fn: Callable[[Any, dict[str, Any]], Any] | None = None,
        progress: Callable[[int, int, float, float], None] | None = None,
        evaluate_start: bool = False,
    ) -> None:
        self.model, self.config, self.out_dir = model, config, Path(out_dir)
        self.evaluate_start = evaluate_start and evaluate is not None
        self.collate, self.evaluate, self.metric = collate, evaluate, metric
        self.greater_is_better, self.progress = greater_is_better, progress
        self.loss_fn = loss_fn or (lambda model, batch: model(**batch).loss)

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / CHECKPOINT

    def total_steps(self, count: int) -> int:
        per_epoch = math.ceil(count / self.config.batch_size)
        steps = per_epoch * self.config.epochs
        return min(steps, self.config.max_steps) if self.config.max_steps else steps

    def fit(self, items: Sequence[dict], resume: bool = True) -> FitResult:
        """Train; resume from ``<out>/checkpoint`` when it exists and ``resume``; end with the best weights."""
        import torch

        if not items:
            raise ConfigError("no training examples")
        config = self.config
        seed_everything(config.seed)
        steps = self.total_steps(len(items))
        optimiser = torch.optim.AdamW(self._parameter_groups(), lr=config.learning_rate)
        warmup = int(steps * config.warmup_ratio)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: min(1.0, (step + 1) / max(1, warmup)) * max(0.0, (steps - step) / steps)
        )
        state = {"epoch": 0, "batch": 0, "step": 0, "best": None, "best_epoch": None, "bad": 0, "history": []}
        resumed_from, best_weights = None, None
        if resume and (self.checkpoint_dir / STATE_FILE).is_file():
            state = self._restore(optimiser, schedule)
            resumed_from = state["step"]
            best_weights = self._load_best()
            log.info("resumed training", extra={"step": resumed_from})
        else:
            self.finish()  # a restart must not pick up an older run's checkpoint or best weights
            if self.evaluate_start and self._end_epoch(state):  # the untrained model's score is epoch 0
                best_weights = self._best_copy()
        started, stopped_early = time.perf_counter(), False
        self.model.train()
        while state["epoch"] < config.epochs and not self._done(state, steps):
            order = list(range(len(items)))
            random.Random(config.seed * 1000 + state["epoch"]).shuffle(order)
            batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
            for position in range(state["batch"], len(batches)):
                if self._done(state, steps):
                    break
                tick = time.perf_counter()
                batch = self.collate([items[i] for i in batches[position]])
                loss = self.loss_fn(self.model, batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                state["step"] += 1
                state["batch"] = position + 1
                if self.progress is not None:
                    rate = len(batches[position]) / max(time.perf_counter() - tick, 1e-9)
                    self.progress(state["step"], steps, float(loss.detach()), rate)
                if state["step"] % config.checkpoint_every == 0:
                    self._save(state, optimiser, schedule)
            if state["batch"] < len(batches):
                break  # max_steps reached inside the epoch
            state["epoch"] += 1
            state["batch"] = 0
            if self._end_epoch(state):
                best_weights = self._best_copy()
            self._save(state, optimiser, schedule)
            if state["bad"] >= config.patience:
                stopped_early = True
                break
        if self.evaluate is not None and state["batch"] and not stopped_early:
            if self._end_epoch(state):  # a max_steps run ends inside an epoch: evaluate what it reached
                best_weights = self._best_copy()
        if best_weights is not None:
            self.model.load_state_dict(best_weights)
        self.model.eval()
        return FitResult(
            steps=state["step"],
            epochs_run=state["epoch"],
            best_epoch=state["best_epoch"],
            best_score=state["best"],
            history=state["history"],
            seconds=round(time.perf_counter() - started, 2),
            resumed_from=resumed_from,
            stopped_early=stopped_early,
        )

    def finish(self) -> None:
        """Remove the checkpoint folder (once the trained model is saved, or before a restart)."""
        import shutil

        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def _done(self, state: dict, steps: int) -> bool:
        return state["step"] >= steps

    def _parameter_groups(self) -> list[dict]:
        decay, plain = [], []
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                (plain if parameter.ndim < 2 or "norm" in name.lower() else decay).append(parameter)
        return [{"params": decay, "weight_decay": self.config.weight_decay}, {"params": plain, "weight_decay": 0.0}]

    def _end_epoch(self, state: dict) -> bool:
        """Evaluate on dev; record the epoch; True when it is the best so far."""
        if self.evaluate is None:
            state["history"].append({"epoch": state["epoch"], "step": state["step"]})
            state["best_epoch"] = state["epoch"]
            return True
        self.model.eval()
        metrics = self.evaluate(self.model)
        self.model.train()
        score = float(metrics[self.metric])
        state["history"].append({"epoch": state["epoch"], "step": state["step"], **metrics})
        better = state["best"] is None or (score > state["best"] if self.greater_is_better else score < state["best"])
        if better:
            state["best"], state["best_epoch"], state["bad"] = score, state["epoch"], 0
        else:
            state["bad"] += 1
        return better

    def _best_copy(self) -> dict:
        weights = copy.deepcopy(self.model.state_dict())
        self._write(self.checkpoint_dir / "best.pt", weights)
        return weights

    def _load_best(self) -> dict | None:
        import torch

        path = self.checkpoint_dir / "best.pt"
        return torch.load(path, weights_only=True) if path.is_file() else None

    def _save(self, state: dict, optimiser: Any, schedule: Any) -> None:
        import numpy as np
        import torch

        body = {
            "state": state,
            "model": self.model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict(),
            "config": self.config.to_dict(),
            "random": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
            },
        }
        self._write(self.checkpoint_dir / STATE_FILE, body)

    def _restore(self, optimiser: Any, schedule: Any) -> dict:
        import numpy as np
        import torch

        body = torch.load(self.checkpoint_dir / STATE_FILE, weights_only=False)
        saved = {key: value for key, value in body["config"].items() if key not in ("epochs", "max_steps")}
        current = {key: value for key, value in self.config.to_dict().items() if key not in ("epochs", "max_steps")}
        if saved != current:
            raise ConfigError(
                "the checkpoint was made with other settings; remove it or use the same ones",
                location=str(self.checkpoint_dir),
            )
        self.model.load_state_dict(body["model"])
        optimiser.load_state_dict(body["optimiser"])
        schedule.load_state_dict(body["schedule"])
        random.setstate(body["random"]["python"])
        np.random.set_state(body["random"]["numpy"])
        torch.set_rng_state(body["random"]["torch"])
        return body["state"]

    @staticmethod
    def _write(path: Path, body: Any) -> None:
        import torch

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        torch.save(body, partial)
        partial.replace(path)


@dataclass
class TrainResult:
    """A trained model folder and how it got there."""

    path: Path
    card: Any
    fit: FitResult
    train_count: int
    dev_count: int


def train_and_save(
    trainer: Trainer,
    items: Sequence[dict],
    *,
    tokenizer: Any,
    card: Any,
    resume: bool,
    counts: tuple[int, int],
    extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit, record the dev history in ``card.metrics`` (``best_<metric>``), save the model folder and drop the
    checkpoint; ``counts`` are the training and dev example counts."""
    from carelm.lab.modeling import save_model

    fit = trainer.fit(items, resume=resume)
    card.metrics = {
        "dev": fit.history[-1] if fit.history else {},
        "best_epoch": fit.best_epoch,
        f"best_{trainer.metric}": fit.best_score,
        **(extra or {}),
    }
    save_model(trainer.out_dir, trainer.model, tokenizer, card)
    trainer.finish()
    return TrainResult(trainer.out_dir, card, fit, *counts)
