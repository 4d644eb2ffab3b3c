"""POST /v1/completions (legacy text completions): the request we accept and the objects we answer with."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from pydantic import Field

from app.protocol.common import GenerationRequest, Usage


class CompletionRequest(GenerationRequest):
    # Token arrays are accepted by the schema so that the proxy can name them in a precise 400.
    prompt: str | list[str | int | list[int]]
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = Field(default=None, ge=1)
    logprobs: int | None = None
    logit_bias: dict[str, float] | None = None


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
