"""Rerankers and Llama Guard on `/ai/run/{model}`: `{query, contexts: [{text}]}` -> `{"response": [{id, score}]}`
(wire spec 1.2, 1.4); `{messages}` -> `{"response": "safe" | "unsafe\\nS1,..." | {safe, categories}}`."""

from __future__ import annotations

from typing import Any

import orjson

from app.errors import UpstreamError


def build_rerank(query: str, texts: list[str]) -> bytes:
    return orjson.dumps({"query": query, "contexts": [{"text": text} for text in texts]})


def parse_rerank(result: Any, count: int) -> list[tuple[int, float]]:
    """(document index, score) for every document Workers AI scored."""
    scores = result.get("response") if isinstance(result, dict) else result
    if not isinstance(scores, list):
        raise UpstreamError("Workers AI returned no scores.")
    found = []
    for item in scores:
        if not isinstance(item, dict) or not isinstance(item.get("score"), int | float):
            continue
        if isinstance(item.get("id"), int) and 0 <= item["id"] < count:
            found.append((item["id"], float(item["score"])))
    return found


def build_guard(text: str) -> bytes:
    return orjson.dumps(
        {"messages": [{"role": "user", "content": text}], "response_format": {"type": "json_object"}, "temperature": 0}
    )


def guard_response(result: Any) -> Any:
    if not isinstance(result, dict) or "response" not in result:
        raise UpstreamError("Workers AI returned no verdict.")
    return result["response"]
