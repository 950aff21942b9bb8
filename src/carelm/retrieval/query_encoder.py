"""Fast single-query embedding: the sentence encoder exported to ONNX Runtime in memory.

For one short query, PyTorch spends most of its time in per-operator overhead (about 20 ms for MiniLM on
one core); ONNX Runtime runs the same graph in a third of that.  The export happens once per process, on
the first query, straight into memory (no file), and is used only when the model is a plain BERT-style
transformer with mean pooling and normalisation and its output matches PyTorch's within ``TOLERANCE`` on a
probe sentence; otherwise queries go through PyTorch as the documents did.  Documents are always embedded
in batches by PyTorch, where the overhead does not matter.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
TOLERANCE = 1e-4
PROBE = "Chest pain radiating to the left arm, troponin raised."
_EXPECTED_MODULES = ("Transformer", "Pooling", "Normalize")


class QueryEncoder:
    """``encoder(text) -> unit vector``: ONNX Runtime when the export checked out, else the model itself."""

    def __init__(self, model: Any):
        self.model = model
        self.session: Any = None
        self.backend = "torch"
        try:
            self.session = self._export(model)
            self.backend = "onnxruntime"
        except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path falls back to torch
            log.info("query encoder uses torch", extra={"reason": type(exc).__name__})

    def __call__(self, text: str) -> np.ndarray:
        if self.session is None:
            return self._torch(text)
        return self._onnx(text)

    def _torch(self, text: str) -> np.ndarray:
        vectors = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors[0], np.float32)

    def _onnx(self, text: str) -> np.ndarray:
        batch = self.model.tokenizer([text], return_tensors="np", truncation=True,
                                     max_length=self.model.max_seq_length)
        feeds = {"input_ids": batch["input_ids"].astype(np.int64),
                 "attention_mask": batch["attention_mask"].astype(np.int64)}
        return np.asarray(self.session.run(None, feeds)[0][0], np.float32)

    def _export(self, model: Any) -> Any:
        import onnxruntime as ort
        import torch

        names = tuple(type(module).__name__ for module in model)
        pooling = getattr(model[1], "pooling_mode", None) if len(names) > 1 else None
        if names != _EXPECTED_MODULES or pooling not in (None, "mean"):
            raise ValueError("not a mean-pooled, normalised transformer")
        graph = io.BytesIO()
        sample = model.tokenizer([PROBE], return_tensors="pt")
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_MeanPooled(model[0].auto_model.eval()),
                              (sample["input_ids"], sample["attention_mask"]), graph,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        options = ort.SessionOptions()
        # One thread, no busy-waiting: a short query gains little from more, and spinning threads slow
        # everything else on a shared machine (a server answers concurrent queries in parallel anyway).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])
        self.session = session
        if float(np.abs(self._onnx(PROBE) - self._torch(PROBE)).max()) > TOLERANCE:
            self.session = None
            raise ValueError("ONNX output differs from torch")
        return session


def _MeanPooled(transformer: Any) -> Any:  # noqa: N802 - builds a torch module class lazily
    import torch

    class MeanPooled(torch.nn.Module):
        """The transformer, mean pooling over real tokens and L2 normalisation, as one graph."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled()
