"""The language-model backend contract: one call, chat messages in, text out.

Backends: ``extractive`` (no model), ``transformers`` (a local causal LM folder), ``openai`` (any
OpenAI-compatible server).  A backend marked ``external`` sends text off this machine, so the policy guard
(:mod:`carelm.generate.policy`) lets only de-identified text reach it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@runtime_checkable
class Backend(Protocol):
    """A text generator."""

    name: str
    external: bool  # True when calls leave this process's machine (an HTTP endpoint)

    def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> str:
        """The assistant's reply to ``messages``."""
        ...
