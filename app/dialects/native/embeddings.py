"""Embeddings <-> Workers AI `/ai/run/{model}` text embeddings: `{"text": [...]}` -> `{shape, data}`."""

from __future__ import annotations

from typing import Any

from app.errors import UpstreamError
from app.routing.route import Route
from app.upstream.envelope import unwrap_result


def build_embeddings(texts: list[str], route: Route) -> dict[str, Any]:
    return {"text": texts}


def parse_embeddings(payload: Any, count: int) -> list[list[float]]:
    result = unwrap_result(payload)
    vectors = result.get("data") if isinstance(result, dict) else None
    if vectors is None and isinstance(result, dict):
        vectors = result.get("response")  # bge-m3 answers `contexts` input this way
    if not isinstance(vectors, list) or len(vectors) != count or not all(isinstance(v, list) for v in vectors):
        got = len(vectors) if isinstance(vectors, list) else "no"
        raise UpstreamError(f"Workers AI returned {got} embeddings for {count} inputs")
    return vectors
