"""POST /v1/responses: the request we accept. Input items, tools and formats stay dictionaries: clients send many
kinds (Codex alone sends a dozen), and the bridge names what it cannot carry instead of refusing the request."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.protocol.chat import MAX_MESSAGES


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    model: str = Field(min_length=1)
    input: str | Annotated[list[dict[str, Any]], Field(max_length=MAX_MESSAGES)] = ""  # the bound: on items
    instructions: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    reasoning: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    metadata: dict[str, Any] | None = None
    user: str | None = None
    stream: bool | None = False
    store: bool | None = True  # as OpenAI: stored unless told not to
    previous_response_id: str | None = None
    include: list[str] | None = None
    prompt_cache_key: str | None = None
