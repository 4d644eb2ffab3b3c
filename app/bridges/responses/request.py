"""A Responses API request (and the conversation before it) as a Chat Completions request.

Items in order: `instructions` and the system / developer messages before the first other item -> one system
message (later ones are told to the model as user text); user messages (input_text, input_image) -> user turns;
reasoning, assistant messages and function calls in a row -> one assistant turn (reasoning carried back as the
turn's reasoning, for the models that need it); function_call_output -> a `tool` message. Function tools are
offered; every other kind (web search, file search, Codex's shell and patch tools...) cannot run here: left out
and named, and a tool_choice that forces one is a 400.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from app.bridges.turns import merged
from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest
from app.protocol.responses import ResponsesRequest

# `encrypted_content` of our reasoning items: the reasoning itself, so that clients which keep no server state
# (Codex sends `store: false`) carry it back to the models that need it. Marked so foreign content is ignored.
REASONING_MARK = "wap-reasoning:"
EFFORTS = {"xhigh": "high"}  # OpenAI's efforts that Workers AI models do not know, as their nearest
TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal")


@dataclass(frozen=True, slots=True)
class Translated:
    request: ChatCompletionRequest
    ignored_tools: tuple[str, ...]  # tools that cannot run here, left out of what the model is offered


def to_chat(request: ResponsesRequest, items: list[dict[str, Any]]) -> Translated:
    """`items`: the whole conversation, the stored one first (`previous_response_id`), then this input."""
    tools, ignored = _tools(request.tools or [])
    choice, tools = _tool_choice(request.tool_choice, tools)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": _messages(request.instructions, items),
        "stream": bool(request.stream),
    }
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    for name in ("temperature", "top_p", "user", "prompt_cache_key"):
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    if tools:
        body["tools"] = tools
        body.update(choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    response_format = _response_format((request.text or {}).get("format"))
    if response_format is not None:
        body["response_format"] = response_format
    effort = (request.reasoning or {}).get("effort")
    if isinstance(effort, str):
        body["reasoning_effort"] = EFFORTS.get(effort, effort)
    try:
        return Translated(ChatCompletionRequest.model_validate(body), tuple(ignored))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidRequest(f"Invalid request: {first['msg']}.", param="input") from None


# -- input ---------------------------------------------------------------------------------------------------
class _Turns:
    """Chat turns built item by item: the assistant side of an exchange gathers into one turn."""

    def __init__(self) -> None:
        self.system: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self._assistant: dict[str, Any] | None = None

    def assistant(self) -> dict[str, Any]:
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": None}
            self.messages.append(self._assistant)
        return self._assistant

    def add(self, message: dict[str, Any]) -> None:
        self._assistant = None
        self.messages.append(message)


def _messages(instructions: str | list[dict[str, Any]] | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    turns = _Turns()
    if isinstance(instructions, str) and instructions:
        turns.system.append(instructions)
    elif isinstance(instructions, list):
        items = [*instructions, *items]
    for i, item in enumerate(items):
        _item(turns, item, f"input[{i}]")
    system = [{"role": "system", "content": "\n\n".join(turns.system)}] if turns.system else []
    messages = merged(turns.messages)
    for message in messages:
        if message["role"] == "assistant" and message["content"] is None and "tool_calls" not in message:
            message["content"] = ""  # a turn that only reasoned
    return system + messages


def _item(turns: _Turns, item: dict[str, Any], where: str) -> None:
    kind = item.get("type")
    if kind == "message":
        _message(turns, item, where)
    elif kind == "reasoning":
        text = _reasoning_text(item)
        if text:
            turn = turns.assistant()
            turn["reasoning_content"] = turn.get("reasoning_content", "") + text
    elif kind in ("function_call", "custom_tool_call"):
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise InvalidRequest(f"A {kind} item needs a `call_id` and a `name`.", param=where)
        arguments = item.get("arguments") if kind == "function_call" else _as_json_input(item.get("input"))
        if not isinstance(arguments, str):  # a client that sent the arguments as an object
            arguments = orjson.dumps(arguments if arguments is not None else {}).decode()
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments or "{}"}}
        turns.assistant().setdefault("tool_calls", []).append(call)
    elif kind in ("function_call_output", "custom_tool_call_output"):
        call_id = item.get("call_id")
        if not isinstance(call_id, str):
            raise InvalidRequest(f"A {kind} item needs a `call_id`.", param=where)
        turns.add({"role": "tool", "tool_call_id": call_id, "content": _output_text(item.get("output"), where)})
    elif kind in ("input_file", "input_audio"):
        raise InvalidRequest(f"Input of type {kind!r} is not supported.", param=where)
    # other items (hosted tool calls, item references, compaction markers) carry nothing a chat model can use


def _message(turns: _Turns, item: dict[str, Any], where: str) -> None:
    role = item.get("role")
    content = _content(item.get("content"), f"{where}.content")
    if role in ("system", "developer"):
        text = content if isinstance(content, str) else "\n\n".join(p["text"] for p in content if "text" in p)
        if not turns.messages:
            turns.system.append(text)
        elif text:  # mid-conversation instructions: told to the model as user text (one system message, first)
            turns.add({"role": "user", "content": text})
    elif role == "assistant":
        turn = turns.assistant()
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        turn["content"] = (turn["content"] or "") + text
    elif role == "user":
        turns.add({"role": "user", "content": content})
    else:
        raise InvalidRequest(f"Unknown message role {role!r}.", param=f"{where}.role")


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest("Message content is a string or a list of parts.", param=where)
    parts: list[dict[str, Any]] = []
    for p, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_PARTS:
            parts.append({"type": "text", "text": str(part.get("text") or part.get("refusal") or "")})
        elif kind == "input_image":
            parts.append({"type": "image_url", "image_url": _image(part, f"{where}[{p}]")})
        elif kind in ("input_file", "input_audio"):
            raise InvalidRequest(f"Content of type {kind!r} is not supported.", param=f"{where}[{p}]")
        elif kind is None:
            raise InvalidRequest("Expected content parts (objects with a `type`).", param=f"{where}[{p}]")
    if all(part["type"] == "text" for part in parts):
        return "\n\n".join(part["text"] for part in parts if part["text"])
    return parts


def _image(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest("An input_image needs an `image_url` (files are not kept by this proxy).", param=where)
    image = {"url": url}
    if isinstance(part.get("detail"), str):
        image["detail"] = part["detail"]
    return image


def _reasoning_text(item: dict[str, Any]) -> str:
    """The reasoning to carry back: its text, or ours from `encrypted_content`; else its summary."""
    texts = [str(c.get("text", "")) for c in item.get("content") or [] if isinstance(c, dict)]
    if any(texts):
        return "".join(texts)
    sealed = item.get("encrypted_content")
    if isinstance(sealed, str) and sealed.startswith(REASONING_MARK):
        try:
            return base64.b64decode(sealed[len(REASONING_MARK) :], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return "\n\n".join(str(s.get("text", "")) for s in item.get("summary") or [] if isinstance(s, dict))


def _output_text(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        content = _content(output, f"{where}.output")
        if isinstance(content, str):
            return content
        return "\n\n".join(part["text"] for part in content if part["type"] == "text")
    return "" if output is None else str(output)


def _as_json_input(value: Any) -> str:
    """A custom tool's free-form input, carried as a function call's one argument."""
    return orjson.dumps({"input": value if isinstance(value, str) else ""}).decode()


# -- tools and formats ---------------------------------------------------------------------------------------
def _tools(tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    offered: list[dict[str, Any]] = []
    ignored: list[str] = []
    for t, tool in enumerate(tools):
        kind = tool.get("type")
        if kind != "function":
            ignored.append(str(tool.get("name") or kind))
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("Every function tool needs a `name`.", param=f"tools[{t}].name")
        function: dict[str, Any] = {"name": name, "parameters": tool.get("parameters") or {"type": "object"}}
        for key in ("description", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        offered.append({"type": "function", "function": function})
    return offered, ignored


def _tool_choice(
    choice: str | dict[str, Any] | None, tools: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chat `tool_choice` (and the tools left on offer, for `allowed_tools`)."""
    if choice is None:
        return {}, tools
    if isinstance(choice, str):
        return {"tool_choice": choice}, tools
    kind = choice.get("type")
    name = choice.get("name")
    if kind == "function":
        if not isinstance(name, str) or not name:
            raise InvalidRequest("A tool_choice of type `function` needs a `name`.", param="tool_choice.name")
        return {"tool_choice": {"type": "function", "function": {"name": name}}}, tools
    if kind == "allowed_tools":
        allowed = {t.get("name") for t in choice.get("tools") or [] if isinstance(t, dict)}
        mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
        return {"tool_choice": mode}, [t for t in tools if t["function"]["name"] in allowed]
    forced = name if isinstance(name, str) else kind
    raise InvalidRequest(
        f"tool_choice forces {forced!r}, a tool this proxy cannot run (only function tools are offered).",
        param="tool_choice",
    )


def _response_format(format_: Any) -> dict[str, Any] | None:
    if not isinstance(format_, dict) or format_.get("type") in (None, "text"):
        return None
    if format_["type"] == "json_object":
        return {"type": "json_object"}
    if format_["type"] == "json_schema":
        schema = {key: format_[key] for key in ("name", "schema", "strict", "description") if key in format_}
        schema.setdefault("name", "response")
        return {"type": "json_schema", "json_schema": schema}
    raise InvalidRequest(f"text.format of type {format_['type']!r} is not supported.", param="text.format")
