"""Chat use-cases: the configured backend, and carelm's own OpenAI-compatible chat completions.

``/v1/chat/completions`` serves what runs inside this process: ``extractive`` and the registered ``lm``
models (``carelm train lm``), by ``name`` (latest version) or ``name:version``.  Each model is loaded once and
kept in a :class:`ChatModels` cache (the API keeps one on ``app.state``).  Calls are written to the audit log
with the model id and token counts; message text is never logged or stored.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError, NotFoundError
from carelm.generate.backend_transformers import shared_backend
from carelm.generate.backends import ExtractiveBackend, generate, make_backend
from carelm.generate.base import Backend, Message
from carelm.lifecycle.access import Permission
from carelm.service import lab
from carelm.service.access import require
from carelm.service.context import Context

EXTRACTIVE = "extractive"
RETIRED = "retired"


def lm_folder(ctx: Context, reference: str) -> Path:
    """The folder of a registered ``lm`` model (``name`` or ``name:version``) or of an lm model folder."""
    resolved = lab.resolve_model(ctx, reference)
    if resolved.entry is not None:
        _check_servable(resolved.entry, reference)
    return resolved.path


def configured_backend(ctx: Context) -> Backend:
    """The backend of ``CARELM_LLM_*`` (registered model names resolved through the store), guarded when
    external: what question answering and summaries should call."""
    return make_backend(ctx.settings, resolve=lambda reference: lm_folder(ctx, reference))


def _check_servable(entry: Any, reference: str) -> None:
    if entry.task != "lm":
        raise InputError(f"model {entry.name}:{entry.version} is a {entry.task!r} model; chat serves 'lm' models "
                         f"(carelm train lm) and {EXTRACTIVE!r}", location="model")
    if entry.status == RETIRED:
        raise NotFoundError(f"model {entry.name}:{entry.version} is retired", location=reference)


class ChatModels:
    """The backends this process serves, loaded once per model folder and kept warm."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._extractive = ExtractiveBackend()

    def get(self, ctx: Context, model: str) -> tuple[str, Any, str | None]:
        """``(model id as answered, backend, registry id)`` for a requested ``model``; NotFoundError for an
        unknown name (folders are not served over HTTP)."""
        if model == EXTRACTIVE:
            return EXTRACTIVE, self._extractive, None
        entry = lab.resolve_registered(ctx, model)
        _check_servable(entry, model)
        with self._lock:  # one load per folder even when requests race
            backend = shared_backend(entry.path)
            backend.warm_up()
        return f"{entry.name}:{entry.version}", backend, entry.id


def chat_completion(
    ctx: Context, models: ChatModels, model: str, messages: list[Message], *, max_tokens: int = 256,
    temperature: float = 0.0,
) -> dict[str, Any]:
    """One chat completion in the OpenAI response shape (``usage`` counts model tokens; words for extractive)."""
    require(ctx, Permission.MODELS_USE, target_type="model", target_id=model[:64])
    model_id, backend, registry_id = models.get(ctx, model)
    completion = generate(backend, messages, max_tokens=max_tokens, temperature=temperature)
    usage = {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
             "total_tokens": completion.prompt_tokens + completion.completion_tokens}
    ctx.store.audit.record(ctx.actor, "generate", "model", registry_id,
                           details={"model": model_id, "messages": len(messages), **usage})
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                     "finish_reason": completion.finish_reason}],
        "usage": usage,
    }


def list_models(ctx: Context) -> list[dict[str, Any]]:
    """What ``/v1/chat/completions`` can serve, in the OpenAI ``/v1/models`` shape: ``extractive``, then each
    registered lm model by name (its latest version) and by ``name:version``."""
    require(ctx, Permission.MODELS_USE, target_type="model")
    items = [{"id": EXTRACTIVE, "object": "model", "created": 0, "owned_by": "carelm"}]
    entries = ctx.store.models.list(task="lm")
    latest = {entry.name: entry for entry in entries}  # listed by name then version: the last one wins
    for entry in entries:
        if entry.status == RETIRED:
            continue
        created = int(entry.created_at.timestamp())
        if latest[entry.name] is entry:
            items.append({"id": entry.name, "object": "model", "created": created, "owned_by": "carelm"})
        items.append({"id": f"{entry.name}:{entry.version}", "object": "model", "created": created,
                      "owned_by": "carelm"})
    return items
