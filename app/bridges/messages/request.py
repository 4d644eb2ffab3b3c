"""An Anthropic Messages request as a Chat Completions request.

system (string or text blocks, and `system` turns anywhere) -> system messages; user blocks: text, image (base64
or URL source) -> content parts, tool_result -> a `tool` message; assistant blocks: text, thinking (carried back as
the turn's reasoning, for the models that need it), tool_use -> tool calls. Tools with a `type` of Anthropic's own
(web search, code execution, bash, ...) cannot run here: they are left out and named, and a tool_choice that
forces one is a 400. Thinking budgets map to a reasoning effort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from app.bridges.turns import merged
from app.errors import InvalidRequest
from app.protocol.anthropic.messages import MessageParam, MessagesRequest
from app.protocol.chat import ChatCompletionRequest

MAX_TOP_K = 50  # what the chat request takes
CLIENT_TOOL_TYPES = (None, "custom")  # any other `type` is one of Anthropic's own tools


@dataclass(frozen=True, slots=True)
class Translated:
    request: ChatCompletionRequest
    ignored_tools: tuple[str, ...]  # Anthropic's own tools, left out of what the model is offered


def to_chat(request: MessagesRequest) -> Translated:
    tools, ignored = _tools(request.tools or [])
    body: dict[str, Any] = {
        "model": request.model,
        "messages": _system(request.system)
        + merged([m for i, turn in enumerate(request.messages) for m in _turn(turn, i)]),
        "max_tokens": request.max_tokens,
        "stream": bool(request.stream),
    }
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if request.stop_sequences:
        body["stop"] = request.stop_sequences[:4]
    for name in ("temperature", "top_p"):
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    if request.top_k is not None:
        body["top_k"] = min(request.top_k, MAX_TOP_K)
    user = (request.metadata or {}).get("user_id")
    if isinstance(user, str):
        body["user"] = user
    if tools:
        body["tools"] = tools
    body.update(_tool_choice(request.tool_choice, ignored, bool(tools)))
    effort = _effort(request.thinking)
    if effort is not None:
        body["reasoning_effort"] = effort
    try:
        return Translated(ChatCompletionRequest.model_validate(body), tuple(ignored))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidRequest(f"Invalid request: {first['msg']}.", param="messages") from None


def _system(system: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    text = system if isinstance(system, str) else _text_of(system or [], "system")
    return [{"role": "system", "content": text}] if text else []


def _turn(turn: MessageParam, index: int) -> list[dict[str, Any]]:
    where = f"messages[{index}].content"
    if turn.role == "system":
        # A system turn in the conversation (Claude Code sends them after the user's) is told to the model as
        # user text: chat templates want one system message, first, and roles that alternate.
        text = turn.content if isinstance(turn.content, str) else _text_of(turn.content, where)
        return [{"role": "user", "content": text}] if text else []
    if isinstance(turn.content, str):
        return [{"role": turn.role, "content": turn.content}]
    if turn.role == "assistant":
        return [_assistant(turn.content, where)]
    return _user(turn.content, where)


def _user(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Tool results become `tool` messages (first, as Chat Completions wants them right after the call)."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for b, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, f"{where}[{b}]")}})
        elif kind == "tool_result":
            results.append(_tool_result(block, f"{where}[{b}]"))
        elif kind in ("document", "search_result"):
            raise InvalidRequest(f"Content blocks of type {kind!r} are not supported.", param=f"{where}[{b}]")
        # other kinds (server tool results, container uploads...) carry nothing a chat model can read
    messages = list(results)
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        content: Any = "\n\n".join(p["text"] for p in parts) if only_text else parts
        messages.append({"role": "user", "content": content})
    return messages or [{"role": "user", "content": ""}]


def _assistant(blocks: list[dict[str, Any]], where: str) -> dict[str, Any]:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for b, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise InvalidRequest("A tool_use block needs an `id` and a `name`.", param=f"{where}[{b}]")
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return message


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        raise InvalidRequest("A tool_result block needs a `tool_use_id`.", param=where)
    content = block.get("content")
    text = content if isinstance(content, str) else _text_of(content or [], where)
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _image_url(block: dict[str, Any], where: str) -> str:
    source = block.get("source") or {}
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        return f"data:{source.get('media_type', 'image/png')};base64,{source['data']}"
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise InvalidRequest("An image block needs a base64 or url source.", param=f"{where}.source")


def _text_of(blocks: list[Any], where: str) -> str:
    texts = []
    for b, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise InvalidRequest("Expected content blocks (objects with a `type`).", param=f"{where}[{b}]")
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    return "\n\n".join(texts)


def _tools(tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    offered: list[dict[str, Any]] = []
    ignored: list[str] = []
    for t, tool in enumerate(tools):
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("Every tool needs a `name`.", param=f"tools[{t}].name")
        if tool.get("type") not in CLIENT_TOOL_TYPES:
            ignored.append(name)
            continue
        function: dict[str, Any] = {"name": name, "parameters": tool.get("input_schema") or {"type": "object"}}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        offered.append({"type": "function", "function": function})
    return offered, ignored


def _tool_choice(choice: dict[str, Any] | None, ignored: list[str], has_tools: bool) -> dict[str, Any]:
    if not choice or (not has_tools and choice.get("type") != "tool"):
        return {}
    out: dict[str, Any] = {}
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        name = choice.get("name")
        if name in ignored:
            raise InvalidRequest(
                f"tool_choice forces {name!r}, one of Anthropic's own tools, which this proxy cannot run.",
                param="tool_choice",
            )
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False
    return out


def _effort(thinking: dict[str, Any] | None) -> str | None:
    """Anthropic's thinking budget as a reasoning effort (`adaptive` leaves the model's default)."""
    if not thinking:
        return None
    kind = thinking.get("type")
    if kind == "disabled":
        return "none"
    if kind != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int):
        return "medium"
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"
