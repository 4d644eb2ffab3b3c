"""POST /v1/images/generations and /v1/images/edits: what we accept, and OpenAI's ImagesResponse."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from pydantic import Field

from app.protocol.common import OpenAIRequest

ResponseFormat = Literal["url", "b64_json"]


class ImageGenerationRequest(OpenAIRequest):
    prompt: str = Field(min_length=1, max_length=32_000)
    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = None  # "1024x1024", "auto"
    quality: str | None = None  # standard | hd (dall-e-3); low | medium | high | auto (gpt-image)
    style: str | None = None  # vivid | natural
    response_format: ResponseFormat | None = None
    negative_prompt: str | None = None  # Stable Diffusion's own, passed on where the model takes it
    seed: int | None = Field(default=None, ge=0)
    user: str | None = None


class Image(TypedDict):
    b64_json: NotRequired[str]
    url: NotRequired[str]
    revised_prompt: NotRequired[str]


class ImagesResponse(TypedDict):
    created: int
    data: list[Image]
