"""What the proxy knows of each embedding model up front: output size and upstream batch size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_EMBEDDING_BATCH = 100  # `text` maxItems in every Workers AI embedding schema


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    dimensions: int
    max_batch: int = DEFAULT_EMBEDDING_BATCH


# Output sizes from the Workers AI model pages (bge-*-en), model cards otherwise (see the wire spec).
EMBEDDING_MODELS: Mapping[str, EmbeddingModel] = {
    "@cf/baai/bge-small-en-v1.5": EmbeddingModel(384),
    "@cf/baai/bge-base-en-v1.5": EmbeddingModel(768),
    "@cf/baai/bge-large-en-v1.5": EmbeddingModel(1024),
    "@cf/baai/bge-m3": EmbeddingModel(1024),
    "@cf/google/embeddinggemma-300m": EmbeddingModel(768),
    "@cf/qwen/qwen3-embedding-0.6b": EmbeddingModel(1024),
}


def embedding_model(model_id: str) -> EmbeddingModel | None:
    return EMBEDDING_MODELS.get(model_id)
