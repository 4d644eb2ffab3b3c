"""Shapes shared by several OpenAI resources."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict

# Sampling options shared by chat and text completions, which Workers AI models take under the same names.
SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
)


class OpenAIRequest(BaseModel):
    """Requests accept unknown fields (clients send many); dialects decide what to forward."""

    model_config = ConfigDict(extra="allow", frozen=True)


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: NotRequired[int]
    total_tokens: int
    prompt_tokens_details: NotRequired[PromptTokensDetails]
