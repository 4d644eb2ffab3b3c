"""POST /v1/messages and /v1/messages/count_tokens: the requests we accept. Content blocks stay dictionaries:
clients send many kinds (`cache_control`, citations, documents...), and the bridge names what it cannot carry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.protocol.chat import MAX_MESSAGES


class MessageParam(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    role: Literal["user", "assistant", "system"]  # Claude Code sends `system` turns mid-conversation
    content: str | list[dict[str, Any]]


class CountTokensRequest(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(min_length=1)
    messages: list[MessageParam] = Field(min_length=1, max_length=MAX_MESSAGES)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)  # required, as Anthropic requires it
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    metadata: dict[str, Any] | None = None
    stream: bool | None = False
