"""The deprecated `functions` / `function_call` of Chat Completions (still sent by older LangChain and LlamaIndex
agents), carried on the `tools` machinery: the request is rewritten into tools, the answer is written back in
the legacy shape (`message.function_call`, `finish_reason: "function_call"`, `delta.function_call` frames).

OpenAI's legacy form calls one function at a time: only the first call of an answer is reported.
"""

from __future__ import annotations

import hashlib
from typing import Any

from app.chat.answer import FinalChoice
from app.errors import InvalidRequest
from app.frames.openai import ChunkEncoder
from app.protocol.chat import ChatCompletionRequest, ChatMessage, FunctionCall, NamedToolChoice, Tool, ToolCall
from app.protocol.common import Usage


def uses_functions(request: ChatCompletionRequest) -> bool:
    extra = request.model_extra or {}
    return bool(extra.get("functions")) or "function_call" in extra


def as_tools(request: ChatCompletionRequest) -> ChatCompletionRequest:
    """`functions` -> `tools`, `function_call` -> `tool_choice`, and the history's function turns -> tool turns."""
    extra = request.model_extra or {}
    if request.tools:
        raise InvalidRequest("Send either 'functions' or 'tools', not both.", param="functions")
    functions = extra.get("functions") or []
    if not isinstance(functions, list) or not all(isinstance(f, dict) for f in functions):
        raise InvalidRequest("'functions' must be a list of function definitions.", param="functions")
    try:
        tools = [Tool.model_validate({"type": "function", "function": f}) for f in functions]
    except ValueError:
        raise InvalidRequest("Each function needs a 'name' (1-64 characters).", param="functions") from None
    update: dict[str, Any] = {"tools": tools or None, "messages": _history(request.messages)}
    choice = extra.get("function_call")
    if choice in ("none", "auto"):
        update["tool_choice"] = choice
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        update["tool_choice"] = NamedToolChoice.model_validate({"type": "function", "function": choice})
    elif choice is not None:
        raise InvalidRequest("'function_call' must be 'none', 'auto' or {\"name\": ...}.", param="function_call")
    return request.model_copy(update=update)


def _history(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Assistant `function_call` turns become tool calls, `function` turns their results (same ids)."""
    out: list[ChatMessage] = []
    last_call: dict[str, str] = {}  # function name -> the id given to its latest call
    for index, message in enumerate(messages):
        call = (message.model_extra or {}).get("function_call")
        if message.role == "assistant" and isinstance(call, dict) and isinstance(call.get("name"), str):
            call_id = _call_id(index, call["name"])
            last_call[call["name"]] = call_id
            tool_call = ToolCall(id=call_id, function=FunctionCall(name=call["name"], arguments=call.get("arguments")))
            out.append(message.model_copy(update={"tool_calls": [tool_call]}))
        elif message.role == "function":
            name = message.name or ""
            call_id = last_call.get(name) or _call_id(index, name)
            out.append(message.model_copy(update={"role": "tool", "tool_call_id": call_id}))
        else:
            out.append(message)
    return out


def _call_id(index: int, name: str) -> str:
    return "call_" + hashlib.blake2s(f"{index}:{name}".encode(), digest_size=8).hexdigest()


def legacy_message(choice: FinalChoice, message: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A chat message and finish reason, rewritten in the legacy shape."""
    calls = message.pop("tool_calls", None)
    if not calls:
        return message, choice.finish_reason
    function = calls[0]["function"]
    message["function_call"] = {"name": function["name"], "arguments": function["arguments"]}
    return message, "function_call"


class FunctionCallEncoder:
    """Frames of a streamed legacy answer: a tool call's pieces as `delta.function_call`, later calls dropped,
    `finish_reason: "function_call"`."""

    __slots__ = ("_inner",)

    def __init__(self, inner: ChunkEncoder) -> None:
        self._inner = inner

    def role(self) -> bytes:
        return self._inner.role()

    def content(self, text: str) -> bytes:
        return self._inner.content(text)

    def reasoning(self, text: str) -> bytes:
        return self._inner.reasoning(text)

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        return b"" if position else self._inner.delta({"function_call": {"name": name, "arguments": ""}})

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        return b"" if position else self._inner.delta({"function_call": {"arguments": arguments}})

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        return self._inner.finish("function_call" if reason == "tool_calls" else reason)

    def usage(self, usage: Usage) -> bytes:
        return self._inner.usage(usage)
