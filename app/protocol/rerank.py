"""POST /v1/rerank, in the shape rerank clients share (Cohere's and Jina's): a query, documents (strings or
`{"text"}`), `top_n`, `return_documents` -> results sorted by relevance."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.protocol.common import OpenAIRequest


class RerankDocument(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    text: str


class RerankRequest(OpenAIRequest):
    model: str = Field(min_length=1)
    query: str = Field(min_length=1)
    documents: list[str | RerankDocument] = Field(min_length=1, max_length=1000)
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = False
