"""Serving trained models: a :class:`Predictor` over torch or ONNX Runtime, and ONNX export.

:func:`export_onnx` writes ``model.onnx`` into a classifier's or tagger's folder (dynamic batch and sequence
axes) and checks that ONNX Runtime's logits match torch's within ``tolerance`` on probe inputs.  An
:class:`OnnxModel` behaves like the transformers model for our prediction code (it is called with
``input_ids`` and ``attention_mask`` and returns an object with ``logits``), so both backends share one
pre- and post-processing path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from carelm.core.errors import ConfigError, InputError
from carelm.lab.modeling import ModelCard, load_model, load_tokenizer

ONNX_FILE = "model.onnx"
BACKENDS = ("torch", "onnx")


def _task_module(task: str) -> Any:
    from carelm.lab import classify, ner

    modules = {"classify": classify, "ner": ner}
    if task not in modules:
        raise ConfigError(f"prediction serves classify and ner models, not {task}")
    return modules[task]


class OnnxModel:
    """An ONNX Runtime session that answers like a transformers model (``.logits``, ``.config.num_labels``)."""

    def __init__(self, path: Path, num_labels: int, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:  # the same limit torch obeys, so the two backends compare fairly
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = SimpleNamespace(num_labels=num_labels)

    def __call__(self, input_ids: Any, attention_mask: Any, **_: Any) -> Any:
        import numpy as np
        import torch

        feeds = {
            "input_ids": np.asarray(input_ids, dtype=np.int64),
            "attention_mask": np.asarray(attention_mask, dtype=np.int64),
        }
        [logits] = self.session.run(["logits"], feeds)
        return SimpleNamespace(logits=torch.from_numpy(logits))

    def eval(self) -> OnnxModel:
        return self


def export_onnx(folder: str | Path, tolerance: float = 1e-4, opset: int = 17) -> dict[str, Any]:
    """Export the model in ``folder`` to ``folder/model.onnx`` and compare it with torch; returns the check."""
    import numpy as np
    import torch

    card = ModelCard.load(folder)
    task = _task_module(card.task)
    # Plain (eager) attention exports to the graph pattern ONNX Runtime optimises; the fused torch kernel does not.
    model, tokenizer, _ = load_model(folder, task.AUTO_CLASS, attn_implementation="eager")
    probe = ["Patient denies chest pain.", "Type 2 diabetes mellitus with hyperglycemia, on metformin 500 mg daily."]
    encoded = tokenizer(probe, padding=True, return_tensors="pt")
    inputs = (encoded["input_ids"], encoded["attention_mask"])
    target = Path(folder) / ONNX_FILE

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    with torch.inference_mode():
        expected = model(*inputs).logits.numpy()
    torch.onnx.export(
        Logits(model),
        inputs,
        str(target),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"} if card.task == "classify" else {0: "batch", 1: "sequence"},
        },
        opset_version=opset,
        dynamo=False,
    )
    found = OnnxModel(target, len(card.labels))(*inputs).logits.numpy()
    difference = float(np.abs(found - expected).max())
    if difference > tolerance:
        raise ConfigError(
            f"ONNX export differs from torch by {difference:.2e} (> {tolerance:.0e})", location=str(target)
        )
    return {"path": str(target), "max_abs_difference": difference, "tolerance": tolerance, "opset": opset}


class Predictor:
    """Predictions of one classifier or tagger folder; thread-safe for a web server."""

    def __init__(self, folder: str | Path, backend: str = "torch") -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.folder, self.backend = Path(folder), backend
        self.card = ModelCard.load(folder)
        self.task = _task_module(self.card.task)
        if backend == "onnx":
            if not (self.folder / ONNX_FILE).is_file():
                raise ConfigError(
                    "no ONNX export in this model folder; run carelm export first", location=str(self.folder)
                )
            self.model = OnnxModel(self.folder / ONNX_FILE, len(self.card.labels))
            self.tokenizer = load_tokenizer(self.folder)
        else:
            self.model, self.tokenizer, _ = load_model(folder, self.task.AUTO_CLASS)
        self._lock = threading.Lock()

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Classification: ``{"label", "labels", "scores"}``; NER: ``{"mentions": [...]}``; one per text."""
        if any(not isinstance(text, str) for text in texts):
            raise InputError("every text must be a string")
        with self._lock:
            if self.card.task == "classify":
                return self.task.predict_texts(self.model, self.tokenizer, self.card, texts)
            return [
                {"mentions": found} for found in self.task.predict_text(self.model, self.tokenizer, self.card, texts)
            ]

    def score(self, examples: Sequence[Any]) -> dict[str, Any]:
        """The task's headline metrics on labelled examples."""
        with self._lock:
            return self.task.score(self.model, self.tokenizer, self.card, examples)
