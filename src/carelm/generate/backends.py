"""Choosing a language-model backend: :func:`make_backend` from settings, :func:`backend_from` by name.

=============== ==================================================================================
``extractive``  default; no model: copies the context sentences that answer the question
                (:mod:`carelm.generate.backend_extractive`)
``transformers`` a local causal LM folder or registered ``lm`` model (:mod:`~.backend_transformers`)
``openai``      any OpenAI-compatible server (:mod:`carelm.generate.backend_openai`)
=============== ==================================================================================

Whatever the choice, a backend marked external comes back behind the PHI guard
(:mod:`carelm.generate.policy`): there is no way through this factory to an unguarded external backend.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from carelm.core.errors import ConfigError
from carelm.generate.backend_common import Completion
from carelm.generate.backend_extractive import ExtractiveBackend
from carelm.generate.backend_openai import OpenAIBackend
from carelm.generate.backend_transformers import TransformersBackend, shared_backend
from carelm.generate.base import Backend, Message
from carelm.generate.policy import guarded, phi_guard

BACKENDS = ("extractive", "transformers", "openai")
Resolver = Callable[[str], Path]  # a registered model reference (name or name:version) to its folder

__all__ = ["BACKENDS", "Backend", "Completion", "ExtractiveBackend", "Message", "OpenAIBackend",
           "TransformersBackend", "backend_from", "generate", "make_backend"]


def backend_from(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    external: bool = True,
    timeout: float = 60.0,
    retries: int = 2,
    policy: str = "refuse",
    resolve: Resolver | None = None,
) -> Backend:
    """The backend called ``name``; ``model`` is a folder (or, with ``resolve``, a registered model) for
    ``transformers`` and the model name sent to the server for ``openai``; ``external`` and ``policy`` apply to
    ``openai`` (see :mod:`carelm.generate.policy`)."""
    if name == "extractive":
        return ExtractiveBackend()
    if name == "transformers":
        return shared_backend(_model_folder(model, resolve))
    if name == "openai":
        guard = phi_guard(policy) if external else None
        backend = OpenAIBackend(base_url or "", model or "", api_key=api_key, external=external, guard=guard,
                                timeout=timeout, retries=retries)
        return guarded(backend, policy=policy)
    raise ConfigError(f"unknown language-model backend {name!r}; accepted: {', '.join(BACKENDS)}")


def make_backend(settings: Any, resolve: Resolver | None = None) -> Backend:
    """The backend the settings choose (``CARELM_LLM_*``, see docs/configuration.md), guarded when external.
    ``resolve`` turns a registered model name into its folder (the service layer passes the registry's)."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
    backend = backend_from(
        settings.llm_backend,
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=key,
        external=settings.llm_external,
        timeout=settings.llm_timeout,
        retries=settings.llm_retries,
        policy=settings.llm_phi_policy,
        resolve=resolve,
    )
    return guarded(backend, settings)


def generate(backend: Backend, messages: list[Message], *, max_tokens: int = 256,
             temperature: float = 0.0) -> Completion:
    """A completion with token counts: the backend's own when it counts tokens, else words."""
    own = getattr(backend, "generate", None)
    if callable(own):
        return own(messages, max_tokens=max_tokens, temperature=temperature)
    from carelm.generate.backend_common import word_count

    text = backend.complete(messages, max_tokens=max_tokens, temperature=temperature)
    prompt = sum(word_count(message.get("content", "")) for message in messages)
    return Completion(text, prompt, word_count(text), "stop")


def _model_folder(model: str | None, resolve: Resolver | None) -> Path:
    if not model:
        raise ConfigError("the transformers backend needs a model: a folder or a registered lm model "
                          "(CARELM_LLM_MODEL)")
    if Path(model).is_dir():
        return Path(model)
    if resolve is None:
        raise ConfigError("language-model folder not found (registered model names need the store: "
                          "build the backend through carelm.service.chat)", location=model)
    return Path(resolve(model))
