"""Reading Workers AI replies, whatever the route: envelopes, text, usage, OpenAI-shaped completions."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from app.chat.answer import UpstreamAnswer
from app.errors import UpstreamError
from app.models.capabilities import Capabilities
from app.protocol.chat import ChatMessage
from app.protocol.common import Usage


def history_reasoning(message: ChatMessage, traits: Capabilities) -> str | None:
    """An assistant turn's earlier reasoning, for the models that need it back (None for the others: earlier
    reasoning is otherwise not part of the next turn). Clients return it under either name."""
    if traits.history_reasoning == "drop" or message.role != "assistant":
        return None
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    return reasoning if isinstance(reasoning, str) and reasoning else None


def content_text(value: Any) -> str:
    """`response` as text: JSON mode returns objects, some models numbers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    total = _count(raw.get("total_tokens")) or prompt + completion
    usage: Usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    details = raw.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        usage["prompt_tokens_details"] = {"cached_tokens": details["cached_tokens"]}  # prefix caching (9.7)
    details = raw.get("completion_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("reasoning_tokens"), int):
        usage["completion_tokens_details"] = {"reasoning_tokens": details["reasoning_tokens"]}
    return usage


def openai_answer(result: dict[str, Any]) -> UpstreamAnswer:
    """A Chat Completions object (newer models on /ai/run, and every OpenAI-compatible route)."""
    choices = result.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    content = message.get("content")
    return UpstreamAnswer(
        content=None if content is None else content_text(content),
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=message.get("tool_calls") or [],
        finish=choice.get("finish_reason"),
        usage=usage_from(result.get("usage")),
    )


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def base64_field(result: Any, field: str, what: str) -> bytes:
    """Bytes a model sent as base64 in its JSON result (`{field: "..."}`, or the bare string; a data: URL too)."""
    encoded = result.get(field) if isinstance(result, dict) else result if isinstance(result, str) else None
    if not isinstance(encoded, str) or not encoded:
        raise UpstreamError(f"Workers AI returned no {what}.")
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError(f"Workers AI returned {what} that is not base64.") from None
