"""POST /v1/embeddings: the request we accept and the list we answer with."""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import Field

from app.protocol.common import OpenAIRequest


class EmbeddingRequest(OpenAIRequest):
    model: str = Field(min_length=1)
    # Token arrays are accepted by the schema so that the proxy can name them in a precise 400.
    input: str | list[str | int | list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class Embedding(TypedDict):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingUsage(TypedDict):
    prompt_tokens: int
    total_tokens: int


class CreateEmbeddingResponse(TypedDict):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
