"""A chat answer as a Responses API `response` object: output items (reasoning, message, function_call) in order,
the status (`incomplete` with its reason when the token budget ran out), usage with its details, and the request's
settings echoed as OpenAI echoes them."""

from __future__ import annotations

import base64
import random
import time
from typing import Any

from app.bridges.responses.request import REASONING_MARK
from app.chat.answer import FinalChoice, total_usage_of
from app.chat.ids import CompletionIds
from app.protocol.common import Usage
from app.protocol.responses import ResponsesRequest

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}  # finish reason -> why


def new_id(prefix: str) -> str:
    return f"{prefix}{random.getrandbits(96):024x}"  # unique, not secret


class Shell:
    """What every `response` object of one request repeats, and how its output items are spelled."""

    __slots__ = ("fields", "seal_reasoning")

    def __init__(self, request: ResponsesRequest, previous: str | None) -> None:
        self.seal_reasoning = "reasoning.encrypted_content" in (request.include or ())
        reasoning = request.reasoning or {}
        self.fields: dict[str, Any] = {
            "object": "response",
            "model": request.model,
            "instructions": request.instructions,
            "tools": [_echoed(tool) for tool in request.tools or []],
            "tool_choice": request.tool_choice if request.tool_choice is not None else "auto",
            "parallel_tool_calls": request.parallel_tool_calls is not False,
            "temperature": request.temperature if request.temperature is not None else 1.0,
            "top_p": request.top_p if request.top_p is not None else 1.0,
            "max_output_tokens": request.max_output_tokens,
            "previous_response_id": previous,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "text": request.text or {"format": {"type": "text"}},
            "truncation": "disabled",
            "store": request.store is not False,
            "metadata": request.metadata or {},
        }
        if request.user is not None:
            self.fields["user"] = request.user

    def response(
        self,
        ids: CompletionIds,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        incomplete: str | None = None,
        error: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return {
            "id": ids.completion_id,
            "created_at": ids.created,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "output": output,
            **({"usage": usage} if usage is not None else {}),
            **self.fields,
        }

    def reasoning_item(self, item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": item_id,
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": text}],
            "status": status,
        }
        if self.seal_reasoning:
            item["encrypted_content"] = REASONING_MARK + base64.b64encode(text.encode()).decode()
        return item


def _echoed(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool as the response repeats it: function tools with every field OpenAI's schema wants."""
    if tool.get("type") != "function":
        return tool
    return {"strict": None, "parameters": None, "description": None, **tool}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def usage(total: Usage | None) -> dict[str, Any]:
    total = total or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    prompt, completion = total.get("prompt_tokens", 0), total.get("completion_tokens", 0)
    cached = (total.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    reasoning = (total.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": total.get("total_tokens", prompt + completion),
    }


def whole(shell: Shell, ids: CompletionIds, finals: list[FinalChoice]) -> dict[str, Any]:
    (final,) = finals  # Responses has no `n`
    incomplete = INCOMPLETE.get(final.finish_reason)
    output: list[dict[str, Any]] = []
    if final.reasoning:
        output.append(shell.reasoning_item(new_id("rs_"), final.reasoning))
    if final.content or not (final.tool_calls or final.reasoning):
        output.append(message_item(new_id("msg_"), final.content or "", "incomplete" if incomplete else "completed"))
    for call in final.tool_calls:
        function = call["function"]
        output.append(function_call_item(new_id("fc_"), call["id"], function["name"], function["arguments"]))
    status = "incomplete" if incomplete else "completed"
    return shell.response(ids, status, output, usage(total_usage_of([final.usage])), incomplete)
