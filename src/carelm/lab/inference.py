"""Serving trained models: a :class:`Predictor` over torch or ONNX Runtime, and ONNX export.

:func:`export_onnx` writes ``model.onnx`` into a classifier's or tagger's folder (dynamic batch and sequence
axes), rewrites a BERT graph with ONNX Runtime's fused transformer operators (attention, skip layer norm,
bias GELU: the same arithmetic in fewer, faster kernels) and checks that ONNX Runtime's logits match torch's
within ``tolerance`` on probe inputs; on request it also writes an 8-bit quantised copy (``onnx-int8``).  An
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
INT8_FILE = "model.int8.onnx"
BACKENDS = ("torch", "onnx", "onnx-int8")


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


def export_onnx(folder: str | Path, tolerance: float = 1e-4, opset: int = 17, int8: bool = False) -> dict[str, Any]:
    """Export the model in ``folder`` to ``folder/model.onnx`` and compare it with torch; returns the check.

    ``int8`` also writes ``model.int8.onnx``: the fused graph with its matrix weights quantised to 8-bit
    integers (dynamic quantisation: activations are quantised per batch at run time).  It is smaller and
    faster on CPUs but no longer equal to torch; its largest logit difference on the probe is reported, and
    its effect on a task's score must be measured (``carelm eval --backend onnx-int8``).
    """
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
    fused = _fuse_bert(target, model.config)
    found = OnnxModel(target, len(card.labels))(*inputs).logits.numpy()
    difference = float(np.abs(found - expected).max())
    if difference > tolerance:
        raise ConfigError(
            f"ONNX export differs from torch by {difference:.2e} (> {tolerance:.0e})", location=str(target)
        )
    check = {
        "path": str(target),
        "max_abs_difference": difference,
        "tolerance": tolerance,
        "opset": opset,
        "fused": fused,
    }
    if int8:
        check["int8"] = _quantise(target, Path(folder) / INT8_FILE, len(card.labels), inputs, found)
    return check


def _quantise(source: Path, target: Path, num_labels: int, inputs: tuple, reference: Any) -> dict[str, Any]:
    """Write the 8-bit dynamic quantisation of ``source``; report its largest difference from ``reference``."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,  # one scale per output column: a wide-ranged column does not coarsen the others
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # the fused operators carry no type info
    )
    found = OnnxModel(target, num_labels)(*inputs).logits.numpy()
    return {"path": str(target), "max_abs_difference": float(np.abs(found - reference).max())}


def _fuse_bert(target: Path, config: Any) -> dict[str, int]:
    """Rewrite the exported BERT graph in place with ONNX Runtime's transformer fusions (attention, layer
    norm with the residual add, GELU with its bias) and return the count of each fused operator.  Fusion is
    pure graph rewriting at full precision; a graph it cannot rewrite is left as exported."""
    if getattr(config, "model_type", None) != "bert":
        return {}
    try:
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError:  # the optional fusion tools are missing; the plain graph still runs
        return {}
    optimised = optimize_model(
        str(target),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
        opt_level=0,
    )
    counts = {name: count for name, count in optimised.get_fused_operator_statistics().items() if count}
    optimised.save_model_to_file(str(target))
    return counts


class Predictor:
    """Predictions of one classifier or tagger folder; thread-safe for a web server."""

    def __init__(self, folder: str | Path, backend: str = "torch") -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.folder, self.backend = Path(folder), backend
        self.card = ModelCard.load(folder)
        self.task = _task_module(self.card.task)
        if backend in ("onnx", "onnx-int8"):
            path = self.folder / (ONNX_FILE if backend == "onnx" else INT8_FILE)
            if not path.is_file():
                flag = " --int8" if backend == "onnx-int8" else ""
                raise ConfigError(
                    f"no {path.name} in this model folder; run carelm export{flag} first", location=str(self.folder)
                )
            self.model = OnnxModel(path, len(self.card.labels))
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
