"""A request's `input` as stored items: a string is one user message; every item gets an `id` and a `status`, and
message content a list of parts, so that `GET /v1/responses/{id}/input_items` lists them as OpenAI does."""

from __future__ import annotations

from typing import Any

from app.bridges.responses.reply import new_id
from app.protocol.responses import ResponsesRequest

ID_PREFIXES = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_"}


def input_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    if isinstance(request.input, str):
        return [_message({"role": "user", "content": request.input})]
    return [_item(item) for item in request.input]


def _item(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        return _message(item)
    if kind not in ID_PREFIXES:
        return item  # kept as sent: the bridge skips what a chat model cannot use
    out = {**item, "id": item.get("id") or new_id(ID_PREFIXES[kind])}
    if kind != "reasoning":
        out.setdefault("status", "completed")
    return out


def _message(item: dict[str, Any]) -> dict[str, Any]:
    content = item.get("content")
    if isinstance(content, str):
        if item.get("role") == "assistant":
            content = [{"type": "output_text", "text": content, "annotations": []}]
        else:
            content = [{"type": "input_text", "text": content}]
    message = {**item, "type": "message", "id": item.get("id") or new_id("msg_"), "content": content}
    message.setdefault("status", "completed")
    return message
