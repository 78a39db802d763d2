"""The OpenAI-compatible surface: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Enough of the Chat Completions API for the official ``openai`` client and our own teacher client: the
question is the last user message (or the text after its last ``Question:`` line, so prompts written for a
general model also work), the answer is the SQL as the assistant's content. ``n`` > 1 returns several
candidates (beam search, or sampling when ``temperature`` > 0). ``stream: true`` sends the same answer as
server-sent events. Unknown request fields are accepted and ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sqldistill.errors import DataError
from sqldistill.serve.api import MAX_QUESTION_CHARS


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = "text"
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=64)
    content: str | list[TextPart] | None = None

    @field_validator("content")
    @classmethod
    def _utf8(cls, v: str | list[TextPart] | None) -> str | list[TextPart] | None:
        texts = [v] if isinstance(v, str) else [p.text or "" for p in v or []]
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("the message holds characters that are not valid Unicode") from None
        return v

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text or "" for p in self.content or [] if p.type == "text")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, max_length=256, description="Ignored: the server serves one model.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    n: int = Field(1, ge=1, le=8, description="Candidates to return.")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream: bool = False


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str = Field(description="The model's schema fingerprint.")
    choices: list[Choice]
    usage: Usage


class ModelEntry(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "sqldistill"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelEntry]


def question_of(messages: list[ChatMessage]) -> str:
    """The question in a conversation: the last user message, cut to its last ``Question:`` if it has one."""
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise DataError("the conversation has no user message", hint="Send the question as a user message")
    text = users[-1].text()
    if "Question:" in text:
        text = text.rsplit("Question:", 1)[1]
        text = text.split("\nSQL:", 1)[0]
    text = " ".join(text.split())
    if not text:
        raise DataError("the user message is empty", hint="Send the question as the user message's text")
    if len(text) > MAX_QUESTION_CHARS:
        raise DataError(f"the question is longer than {MAX_QUESTION_CHARS} characters", hint="Ask a shorter question")
    return text


def decoding_options(req: ChatRequest) -> dict[str, Any]:
    """Map OpenAI sampling fields onto the predictor's decoding modes."""
    limit = req.max_completion_tokens or req.max_tokens
    sampling = (req.temperature or 0.0) > 0
    if req.n == 1:
        mode = "sample" if sampling else "greedy"
    else:
        mode = "sample" if sampling else "beam"
    return {"num_candidates": req.n, "mode": mode, "max_new_tokens": limit}


def count_tokens(counter: Callable[[str], int] | None, text: str) -> int:
    """Tokens of ``text`` by the model's own count, else words."""
    if counter is None:
        return len(text.split())
    try:
        return counter(text)
    except Exception:
        return len(text.split())


def completion(model: str, fingerprint: str, question: str, candidates: list[str],
               counter: Callable[[str], int] | None) -> ChatResponse:
    prompt_tokens = count_tokens(counter, question)
    completion_tokens = sum(count_tokens(counter, c) for c in candidates)
    return ChatResponse(
        id="chatcmpl-" + uuid.uuid4().hex,
        created=int(time.time()),
        model=model,
        system_fingerprint=fingerprint,
        choices=[Choice(index=i, message=AssistantMessage(content=c)) for i, c in enumerate(candidates)],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens),
    )


async def stream_events(resp: ChatResponse) -> AsyncIterator[str]:
    """The answer as ``chat.completion.chunk`` events: role, content, finish, then ``[DONE]``."""
    base = {"id": resp.id, "object": "chat.completion.chunk", "created": resp.created, "model": resp.model,
            "system_fingerprint": resp.system_fingerprint}
    for choice in resp.choices:
        for delta, finish in (({"role": "assistant", "content": ""}, None),
                              ({"content": choice.message.content}, None), ({}, "stop")):
            chunk = {**base, "choices": [{"index": choice.index, "delta": delta, "finish_reason": finish,
                                          "logprobs": None}]}
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


__all__ = ["ChatRequest", "ChatResponse", "ModelList", "completion", "decoding_options", "question_of",
           "stream_events"]
