"""What the backends share: a completion with its token counts, and checks of chat messages."""

from __future__ import annotations

from dataclasses import dataclass

from carelm.core.errors import InputError
from carelm.generate.base import Message

ROLES = ("system", "user", "assistant")
FINISH_REASONS = ("stop", "length")


@dataclass(frozen=True, slots=True)
class Completion:
    """A reply with what it cost: prompt and completion tokens (the backend's own unit) and why it ended."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop": the model ended (or had nothing to say); "length": max_tokens reached


def check_messages(messages: list[Message]) -> list[Message]:
    """``messages`` as plain ``{"role", "content"}`` dicts; a malformed one is an InputError naming it."""
    if not isinstance(messages, list) or not messages:
        raise InputError("messages must be a non-empty list of {role, content} objects", location="messages")
    clean: list[Message] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InputError("expected an object with 'role' and 'content'", location=where)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}", location=f"{where}.role")
        if not isinstance(content, str):
            raise InputError("content must be a string", location=f"{where}.content")
        clean.append({"role": role, "content": content})
    return clean


def check_sampling(max_tokens: int, temperature: float) -> None:
    """``max_tokens`` must be at least 1 and ``temperature`` between 0 and 2 (0: greedy)."""
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise InputError("max_tokens must be a positive integer", location="max_tokens")
    if not 0.0 <= float(temperature) <= 2.0:
        raise InputError("temperature must be between 0 and 2 (0 is greedy)", location="temperature")


def plain_prompt(messages: list[Message]) -> str:
    """The prompt for a model without a chat template: one ``role: content`` line per message, then
    ``assistant:`` for the model to continue."""
    lines = [f"{message['role']}: {message['content']}" for message in messages]
    return "\n".join([*lines, "assistant:"])


def word_count(text: str) -> int:
    """Whitespace-separated words: the token unit of backends without a tokenizer."""
    return len(text.split())
