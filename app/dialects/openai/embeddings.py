"""Embeddings <-> an OpenAI-compatible route: `{"model", "input"}` -> `{"data": [{"index", "embedding"}]}`."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from app.errors import UpstreamError
from app.upstream.envelope import unwrap_result


def build_embeddings(texts: list[str], model: str) -> dict[str, Any]:
    return {"model": model, "input": texts, "encoding_format": "float"}


def parse_embeddings(payload: Any, count: int) -> list[list[float]]:
    result = unwrap_result(payload)
    items = result.get("data") if isinstance(result, dict) else None
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else "no"
        raise UpstreamError(f"The upstream returned {got} embeddings for {count} inputs")
    ordered = sorted(items, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0)
    vectors = [_vector(item.get("embedding") if isinstance(item, dict) else None) for item in ordered]
    if any(vector is None for vector in vectors):
        raise UpstreamError("The upstream returned an embedding that is not a list of numbers")
    return vectors  # type: ignore[return-value]  # None ruled out above


def _vector(value: Any) -> list[float] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str):  # an upstream that answered in base64 anyway
        packed = array("f")
        packed.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":
            packed.byteswap()
        return packed.tolist()
    return None
