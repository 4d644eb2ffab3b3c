"""Chat completions <-> Workers AI `/ai/run/{model}` text generation (non-stream half).

Request: the model's own input schema (`messages` + sampling options, no wrapper). Reply: the v4 envelope
whose `result` is either the legacy `{response, usage}` object (`response` a string, an object in JSON
mode, a number, or null) or, for newer models, a whole Chat Completions object.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.catalog import Route
from app.dialects.context import ChatContext
from app.dialects.native.errors import error_from_payload
from app.protocol.chat import ChatCompletion, ChatCompletionRequest, ChatMessage, FinishReason
from app.protocol.common import Usage

# OpenAI fields forwarded as they are; every other field the client sent is dropped (the native
# schemas reject unknown properties).
SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
)
ROLE_NAMES = {"developer": "system", "function": "tool"}
FINISH_REASONS: frozenset[str] = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def build_chat(request: ChatCompletionRequest, route: Route, max_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [_message(m) for m in request.messages], "max_tokens": max_tokens}
    if request.stream:
        body["stream"] = True
    for name in SAMPLING_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    return body


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": ROLE_NAMES.get(message.role, message.role)}
    content = message.content
    if isinstance(content, list):
        if all(part.type == "text" for part in content):
            # Older models take string content only; text parts read the same joined.
            out["content"] = "\n".join(part.text or "" for part in content)
        else:
            out["content"] = [part.model_dump(exclude_none=True) for part in content]
    else:
        out["content"] = content if content is not None else ""
    extra = message.model_extra or {}
    for key in ("tool_calls", "tool_call_id"):
        if key in extra:
            out[key] = extra[key]
    return out


def parse_chat(payload: Any, ctx: ChatContext) -> ChatCompletion:
    result = unwrap_result(payload)
    reasoning: str | None = None
    upstream_finish: str | None = None
    if isinstance(result, dict) and isinstance(result.get("choices"), list):
        choice = result["choices"][0] if result["choices"] else {}
        message = choice.get("message") or {}
        content = content_text(message.get("content"))
        reasoning = message.get("reasoning_content") or message.get("reasoning") or None
        upstream_finish = choice.get("finish_reason")
    elif isinstance(result, dict):
        content = content_text(result.get("response"))
    else:
        content = content_text(result)
    usage = usage_from(result.get("usage") if isinstance(result, dict) else None)
    message_out: dict[str, Any] = {"role": "assistant", "content": content}
    if isinstance(reasoning, str):
        message_out["reasoning_content"] = reasoning
    completion: dict[str, Any] = {
        "id": ctx.completion_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": message_out,
                "logprobs": None,
                "finish_reason": finish_reason(upstream_finish, usage, ctx.max_tokens),
            }
        ],
    }
    if usage is not None:
        completion["usage"] = usage
    return completion  # type: ignore[return-value]  # built as a plain dict on purpose: one serialization


def unwrap_result(payload: Any) -> Any:
    """The `result` of a v4 envelope; tolerate a bare result from a gateway or an older client."""
    if isinstance(payload, dict) and ("result" in payload or "success" in payload):
        if payload.get("success") is False:
            raise error_from_payload(200, payload, {})
        return payload.get("result")
    return payload


def content_text(value: Any) -> str:
    """`response` as text: JSON mode returns objects, some models numbers, tool-call replies null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return orjson.dumps(value).decode() if isinstance(value, int | float) else str(value)


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    total = _count(raw.get("total_tokens")) or prompt + completion
    usage: Usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    details = raw.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        usage["prompt_tokens_details"] = {"cached_tokens": details["cached_tokens"]}
    return usage


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def finish_reason(upstream: Any, usage: Usage | None, max_tokens: int) -> FinishReason:
    if isinstance(upstream, str) and upstream in FINISH_REASONS:
        return upstream  # type: ignore[return-value]  # checked against FINISH_REASONS
    if usage is not None and usage.get("completion_tokens", 0) >= max_tokens:
        return "length"
    return "stop"
