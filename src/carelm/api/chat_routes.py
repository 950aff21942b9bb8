"""``POST /v1/chat/completions`` and ``GET /v1/models``: carelm's local models behind the OpenAI protocol.

Any OpenAI-compatible client (including carelm's own ``openai`` backend) can talk to a carelm server.
``model`` is ``extractive`` or a registered ``lm`` model (``name`` or ``name:version``); models are loaded once
and kept on ``app.state.chat_models``.  Streaming and ``n`` > 1 are refused with a 400.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from carelm.api.auth import request_context
from carelm.core.errors import PayloadTooLarge
from carelm.service import chat
from carelm.service.context import Context

router = APIRouter(prefix="/v1", tags=["chat"])
_STATE_LOCK = threading.Lock()
MAX_TOKENS = 4096


def get_chat_models(request: Request) -> chat.ChatModels:
    state = request.app.state
    with _STATE_LOCK:
        if getattr(state, "chat_models", None) is None:
            state.chat_models = chat.ChatModels()
    return state.chat_models


def get_context(request: Request) -> Context:
    return request_context(request)


ModelsDep = Annotated[chat.ChatModels, Depends(get_chat_models)]
ContextDep = Annotated[Context, Depends(get_context)]


class TextPart(BaseModel):
    model_config = {"extra": "forbid"}
    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    """A message; ``content`` is a string or a list of text parts (joined by line breaks)."""

    model_config = {"extra": "forbid"}
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = Field(default=None, max_length=64)

    def plain(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "\n".join(part.text for part in self.content)
        return {"role": self.role, "content": text}


class ChatRequest(BaseModel):
    model_config = {"extra": "forbid"}
    model: str = Field(min_length=1, max_length=200, description="'extractive' or a registered lm model")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS, description="default 256")
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS, description="alias of max_tokens")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 (default) is greedy")
    stream: bool = False
    n: int = Field(default=1, ge=1)
    user: str | None = Field(default=None, max_length=256, description="accepted and ignored")


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={400: {"description": "stream=true or n > 1"}, 404: {"description": "unknown model"}})
def chat_completions(body: ChatRequest, ctx: ContextDep, models: ModelsDep) -> ChatCompletion:
    """A reply from `extractive` or a registered lm model, in the OpenAI chat-completion shape."""
    if body.stream:
        raise HTTPException(400, "stream=true is not supported: send stream=false (or leave it out)")
    if body.n != 1:
        raise HTTPException(400, "only n=1 is supported")
    messages = [message.plain() for message in body.messages]
    if sum(len(m["content"].encode()) for m in messages) > ctx.settings.max_request_bytes:
        raise PayloadTooLarge(f"messages are larger than {ctx.settings.max_request_bytes} bytes", location="messages")
    max_tokens = body.max_tokens or body.max_completion_tokens or 256
    reply = chat.chat_completion(ctx, models, body.model, messages, max_tokens=max_tokens,
                                 temperature=body.temperature)
    return ChatCompletion(**reply)


@router.get("/models", response_model=ModelList)
def list_models(ctx: ContextDep) -> ModelList:
    """The models `/v1/chat/completions` serves: `extractive` and each registered lm model."""
    return ModelList(object="list", data=[ModelOut(**item) for item in chat.list_models(ctx)])
