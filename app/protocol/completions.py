"""POST /v1/completions (legacy text completions): the request we accept and the objects we answer with."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from pydantic import Field

from app.protocol.chat import StreamOptions
from app.protocol.common import OpenAIRequest, Usage


class CompletionRequest(OpenAIRequest):
    model: str = Field(min_length=1)
    # Token arrays are accepted by the schema so that the proxy can name them in a precise 400.
    prompt: str | list[str | int | list[int]]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    n: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = Field(default=None, ge=1)
    logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class CompletionChoice(TypedDict):
    text: str
    index: int
    logprobs: None
    finish_reason: str


class Completion(TypedDict):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: NotRequired[Usage]
