"""The ``transformers`` backend: a causal language model from a local folder, loaded once and kept warm.

The folder is a model trained by ``carelm train lm`` or any local Hugging Face causal LM (``config.json``,
weights and a tokenizer); nothing is fetched.  Messages become a prompt through the tokenizer's chat template
when it has one, else one ``role: content`` line per message followed by ``assistant:``.  ``temperature`` 0 is
greedy decoding (deterministic); above 0 tokens are sampled at that temperature.  When the prompt and
``max_tokens`` do not fit the model's context window, the reply gets what is left after the prompt (at most
half the window is kept for it) and the prompt keeps its last tokens.  One lock serialises generation, so a
backend can be shared by the threads of a server.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.generate.backend_common import Completion, check_messages, check_sampling, plain_prompt
from carelm.generate.base import Message

CARD_FILE = "carelm-model.json"  # written by the model lab next to the weights
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def check_causal_folder(folder: Path) -> None:
    """A ConfigError unless ``folder`` holds a causal LM (checked from its files, before any weight is read)."""
    if not folder.is_dir():
        raise ConfigError("language-model folder not found", location=str(folder))
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ConfigError("not a model folder (no config.json): give a causal LM folder", location=str(folder))
    card = _read_json(folder / CARD_FILE) if (folder / CARD_FILE).is_file() else None
    if card is not None and card.get("task") != "lm":
        raise ConfigError(
            f"this is a carelm {card.get('task')!r} model; generation needs an 'lm' model (carelm train lm)",
            location=str(folder),
        )
    config = _read_json(config_path)
    architectures = config.get("architectures") or []
    if architectures and not any(name.endswith(_CAUSAL_SUFFIXES) for name in architectures):
        raise ConfigError(
            f"not a causal language model (architectures: {', '.join(architectures)})", location=str(folder)
        )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable file ({type(exc).__name__})", location=str(path)) from None
    if not isinstance(body, dict):
        raise ConfigError("expected a JSON object", location=str(path))
    return body


class TransformersBackend:
    """A local causal LM (see the module docstring); the weights load on first use or at ``warm_up()``."""

    name = "transformers"
    external = False

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        check_causal_folder(self.folder)
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        """Load the tokenizer and the model (once)."""
        with self._lock:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import transformers

        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(str(self.folder), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"could not load a causal language model ({type(exc).__name__})", location=str(self.folder)
            ) from None
        model.eval()
        self._tokenizer, self._model = tokenizer, model

    @property
    def context_window(self) -> int | None:
        """The most tokens (prompt and reply) the model attends to, when its configuration says."""
        self.warm_up()
        config = self._model.config
        for key in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """The token ids of the prompt for ``messages`` (chat template, else ``role: content`` lines)."""
        self.warm_up()
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = plain_prompt(messages)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> Completion:
        check_sampling(max_tokens, temperature)
        ids = self.prompt_ids(check_messages(messages))
        budget, ids = fit_window(ids, max_tokens, self.context_window)
        import torch

        tokenizer, model = self._tokenizer, self._model
        eos = model.config.eos_token_id if model.config.eos_token_id is not None else tokenizer.eos_token_id
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        options: dict[str, Any] = {"max_new_tokens": budget, "pad_token_id": pad, "eos_token_id": eos}
        options.update({"do_sample": True, "temperature": float(temperature), "top_k": 0} if temperature > 0
                       else {"do_sample": False})
        inputs = torch.tensor([ids])
        with self._lock, torch.inference_mode():
            output = model.generate(inputs, attention_mask=torch.ones_like(inputs), **options)
        new = [int(token) for token in output[0, len(ids) :]]
        stops = {eos} if isinstance(eos, int) else set(eos or [])
        ended = bool(new) and new[-1] in stops
        text = tokenizer.decode(new, skip_special_tokens=True).strip()
        finish = "stop" if ended or len(new) < budget else "length"
        return Completion(text, len(ids), len(new), finish)

    def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> str:
        return self.generate(messages, max_tokens=max_tokens, temperature=temperature).text


def fit_window(ids: list[int], max_tokens: int, window: int | None) -> tuple[int, list[int]]:
    """``(reply budget, prompt ids)`` fitting ``window``: the reply keeps ``max_tokens`` when there is room, else
    what the prompt leaves (the prompt keeps at least half the window, its last tokens)."""
    if window is None or len(ids) + max_tokens <= window:
        return max_tokens, ids
    budget = max(1, min(max_tokens, window - min(len(ids), window // 2)))
    room = window - budget
    return budget, ids[-room:] if room > 0 else ids[-1:]


@lru_cache(maxsize=4)
def _shared(folder: str) -> TransformersBackend:
    return TransformersBackend(folder)


def shared_backend(folder: str | Path) -> TransformersBackend:
    """One backend per model folder in this process, so a model is loaded once however often it is asked for."""
    return _shared(str(Path(folder).resolve()))
