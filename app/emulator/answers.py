"""What the emulator answers, whatever the route: a tool call, a JSON-mode object, or deterministic text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.emulator import generate


@dataclass(frozen=True, slots=True)
class EmulatedAnswer:
    tokens: list[str]
    tool_call: dict[str, Any] | None
    json: Any
    usage: dict[str, int]


def plan_answer(model: str, body: dict[str, Any], limit: int) -> EmulatedAnswer:
    tool_call = _tool_call(body)
    json_answer = _json_answer(body)
    if tool_call is not None:
        tokens: list[str] = []
    elif json_answer is not None:
        tokens = [orjson.dumps(json_answer).decode()]
    else:
        tokens = generate.reply_tokens(model, generate.prompt_text(body), limit)
    prompt_tokens = generate.count_prompt_tokens(body)
    completion_tokens = len(tokens) or 8
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return EmulatedAnswer(tokens, tool_call, json_answer, usage)


def _tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """With tools offered and a user turn to answer, the emulator calls the first (or the chosen) tool."""
    tools = body.get("tools")
    messages = body.get("messages") or []
    if not isinstance(tools, list) or not tools or not messages or not isinstance(messages[-1], dict):
        return None
    if messages[-1].get("role") != "user" or body.get("tool_choice") == "none":
        return None
    chosen = body.get("tool_choice")
    wanted = chosen.get("function", {}).get("name") if isinstance(chosen, dict) else None
    definitions = [tool.get("function", tool) for tool in tools if isinstance(tool, dict)]
    definition = next((d for d in definitions if d.get("name") == wanted), definitions[0] if definitions else None)
    if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
        return None
    return {"name": definition["name"], "arguments": generate.example_value(definition.get("parameters") or {})}


def _json_answer(body: dict[str, Any]) -> Any:
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") not in ("json_object", "json_schema"):
        return None
    schema = response_format.get("json_schema")
    if not isinstance(schema, dict):
        return {"answer": "emulated"}
    return generate.example_value(schema)
