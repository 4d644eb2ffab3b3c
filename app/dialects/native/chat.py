"""Chat completions <-> Workers AI `/ai/run/{model}` text generation (request, and whole replies).

Request: the model's own input schema (`messages` + options, no wrapper), shaped by the model's traits:
tools flat or OpenAI-shaped, OpenAI options only for models that take them, reasoning effort in the
model's own form. Reply: the v4 envelope whose `result` is either the legacy `{response, tool_calls,
usage}` object (`response` a string, an object in JSON mode, a number, or null) or, for newer models, a
whole Chat Completions object.
"""

from __future__ import annotations

from typing import Any

from app.chat.answer import UpstreamAnswer
from app.chat.tool_calls import arguments_json, short_tool_call_id
from app.dialects.common import content_text, history_reasoning, openai_answer, usage_from
from app.models.capabilities import Capabilities
from app.protocol.chat import ChatCompletionRequest, ChatMessage, NamedToolChoice, ResponseFormat
from app.protocol.common import SAMPLING_FIELDS  # forwarded as they are; native schemas reject unknowns
from app.routing.route import Route
from app.upstream.envelope import unwrap_result

ROLE_NAMES = {"developer": "system", "function": "tool"}
NO_THINKING_EFFORTS = frozenset({"none", "minimal"})


def build_chat(request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool) -> dict[str, Any]:
    traits = route.capabilities
    body: dict[str, Any] = {"messages": [_message(m, traits) for m in request.messages], "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    for name in SAMPLING_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    tools = _tools(request, traits)
    if tools:
        body["tools"] = tools
        if traits.chat_options and request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = choice.model_dump() if isinstance(choice, NamedToolChoice) else choice
        if traits.chat_options and request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if traits.chat_options and request.stop:
        body["stop"] = request.stop
    response_format = _response_format(request.response_format)
    if response_format is not None:
        body["response_format"] = response_format
    if request.reasoning_effort is not None:
        _reasoning_effort(body, request.reasoning_effort, traits)
    return body


def build_prompt(prompt: str, fields: dict[str, Any], max_tokens: int, *, stream: bool) -> dict[str, Any]:
    """Legacy completions: `{"prompt"}` with the same sampling options."""
    body: dict[str, Any] = {"prompt": prompt, "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    for name in SAMPLING_FIELDS:
        if fields.get(name) is not None:
            body[name] = fields[name]
    return body


def _message(message: ChatMessage, traits: Capabilities) -> dict[str, Any]:
    out: dict[str, Any] = {"role": ROLE_NAMES.get(message.role, message.role)}
    content = message.content
    if isinstance(content, list):
        texts = [part.text or "" for part in content if part.type == "text"]
        if traits.string_content or len(texts) == len(content):
            out["content"] = "\n".join(texts)  # text parts read the same joined
        else:
            out["content"] = [_part(part.model_dump(exclude_none=True)) for part in content]
    else:
        out["content"] = content if content is not None else ""
    reasoning = history_reasoning(message, traits)
    if reasoning is not None:
        out[traits.history_reasoning] = reasoning
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": _tool_call_id(call.id or f"call_{i}", traits),
                "type": "function",
                "function": {"name": call.function.name, "arguments": arguments_json(call.function.arguments)},
            }
            for i, call in enumerate(message.tool_calls)
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = _tool_call_id(message.tool_call_id, traits)
        if message.name:
            out["name"] = message.name
    return out


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image_url":
        return {"type": "image_url", "image_url": {"url": part["image_url"]["url"]}}
    return part


def _tool_call_id(tool_call_id: str, traits: Capabilities) -> str:
    return short_tool_call_id(tool_call_id) if traits.short_tool_ids else tool_call_id


def _tools(request: ChatCompletionRequest, traits: Capabilities) -> list[dict[str, Any]]:
    tools = request.tools or []
    choice = request.tool_choice
    if not tools or choice == "none":
        return []  # "none": the model must answer in text, so it is not shown the tools
    if isinstance(choice, NamedToolChoice) and not traits.chat_options:
        tools = [tool for tool in tools if tool.function.name == choice.function.name]  # the closest we can force
    definitions = [tool.function.model_dump(exclude_none=True, exclude={"strict"}) for tool in tools]
    if traits.tools == "flat":
        return definitions
    return [{"type": "function", "function": definition} for definition in definitions]


def _response_format(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return {"type": "json_object"}
    schema = response_format.json_schema.schema_ if response_format.json_schema else None
    # the native route takes the bare JSON Schema, not OpenAI's {name, schema, strict} envelope
    return {"type": "json_schema", "json_schema": schema or {"type": "object"}}


def _reasoning_effort(body: dict[str, Any], effort: str, traits: Capabilities) -> None:
    thinking = effort not in NO_THINKING_EFFORTS
    if traits.reasoning_effort == "openai":
        body["reasoning_effort"] = effort
    elif traits.reasoning_effort == "qwen3":
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    elif traits.reasoning_effort == "kimi":  # Kimi K2.x: `thinking`, not `enable_thinking` (wire spec 9.2)
        body["chat_template_kwargs"] = {"thinking": thinking}
        if thinking:
            body["reasoning_effort"] = effort


# -- replies ---------------------------------------------------------------------------------------
def parse_chat(payload: Any) -> UpstreamAnswer:
    result = unwrap_result(payload)
    if isinstance(result, dict) and isinstance(result.get("choices"), list):
        return openai_answer(result)
    if isinstance(result, dict):
        response = result.get("response")
        reasoning = result.get("reasoning_content") or result.get("reasoning")
        return UpstreamAnswer(
            content=None if response is None else content_text(response),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            tool_calls=result.get("tool_calls") or [],
            finish=result.get("finish_reason"),
            usage=usage_from(result.get("usage")),
        )
    return UpstreamAnswer(content=content_text(result))
