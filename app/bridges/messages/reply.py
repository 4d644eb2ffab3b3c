"""A chat answer as an Anthropic message: content blocks in order (thinking, text, tool_use), the stop reason and
usage in Anthropic's words."""

from __future__ import annotations

from typing import Any

import orjson

from app.chat.answer import FinalChoice, total_usage_of
from app.chat.ids import CompletionIds
from app.protocol.common import Usage

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


def stop_reason(finish: str | None, stop_sequence: str | None = None) -> str:
    if stop_sequence is not None:
        return "stop_sequence"
    return STOP_REASONS.get(finish or "stop", "end_turn")


def usage(total: Usage | None) -> dict[str, int]:
    total = total or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    out = {"input_tokens": total.get("prompt_tokens", 0), "output_tokens": total.get("completion_tokens", 0)}
    cached = (total.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached:
        out["cache_read_input_tokens"] = cached
    return out


def message(ids: CompletionIds, finals: list[FinalChoice]) -> dict[str, Any]:
    (final,) = finals  # Messages has no `n`
    content: list[dict[str, Any]] = []
    if final.reasoning:
        content.append({"type": "thinking", "thinking": final.reasoning, "signature": ""})
    if final.content:
        content.append({"type": "text", "text": final.content})
    for call in final.tool_calls:
        function = call["function"]
        content.append({"type": "tool_use", "id": call["id"], "name": function["name"], "input": _input(function)})
    return {
        "id": ids.completion_id,
        "type": "message",
        "role": "assistant",
        "model": ids.model,
        "content": content,
        "stop_reason": stop_reason(final.finish_reason, final.stop_sequence),
        "stop_sequence": final.stop_sequence,
        "usage": usage(total_usage_of([final.usage])),
    }


def _input(function: dict[str, Any]) -> Any:
    """Tool arguments as the object Anthropic's `input` is (unparseable arguments kept under `arguments`)."""
    try:
        value = orjson.loads(function.get("arguments") or "{}")
    except orjson.JSONDecodeError:
        return {"arguments": function.get("arguments")}
    return value if isinstance(value, dict) else {"value": value}
