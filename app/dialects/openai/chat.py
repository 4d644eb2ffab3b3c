"""Chat completions <-> an OpenAI-compatible route (Workers AI `/ai/v1/...`, AI Gateway `workers-ai/v1/...`
and `compat/...`): near pass-through, with what Workers AI needs and gets wrong put right.

Out: the client's request as it sent it, but with the route's model name, a token budget (Workers AI stops at
256 silently), `n` fanned out by the proxy, usage always asked for when streaming (finish reasons depend on
it), earlier reasoning dropped from the history, and OpenAI-platform-only fields kept from Workers AI models.
Back: an OpenAI completion whose content may be a JSON object (JSON mode), reasoning under either name,
tool-call arguments as objects, usage only on the final chunk - read by the shared parsers.
"""

from __future__ import annotations

from typing import Any

from app.chat.answer import UpstreamAnswer
from app.dialects.common import history_reasoning, openai_answer
from app.models.capabilities import Capabilities
from app.protocol.chat import ChatCompletionRequest, ChatMessage
from app.routing.route import Route
from app.upstream.envelope import unwrap_result

HANDLED_HERE = {"model", "messages", "n", "stream", "stream_options", "max_tokens", "max_completion_tokens"}
# Deprecated `functions` arrive here already turned into `tools` (app.chat.functions)
HANDLED_HERE |= {"functions", "function_call"}
# Fields of OpenAI's own platform that Workers AI models have no use for (other providers behind compat do).
OPENAI_PLATFORM_ONLY = {
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
    "user",
    "prediction",
    "modalities",
    "audio",
    "web_search_options",
    "verbosity",
}
HISTORY_DROPPED = {"reasoning_content", "reasoning"}
# Models whose chat template, not `reasoning_effort`, turns thinking on and off (wire spec 9.2)
THINKING_SWITCHES = {"kimi": "thinking", "qwen3": "enable_thinking"}


def build_chat(
    request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
) -> dict[str, Any]:
    dropped = HANDLED_HERE | (OPENAI_PLATFORM_ONLY if route.model_id.startswith(("@cf/", "@hf/")) else set())
    body: dict[str, Any] = {"model": model, "messages": [_message(m, route.capabilities) for m in request.messages]}
    body.update(request.model_dump(exclude_unset=True, by_alias=True, exclude=dropped))
    body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    switch = THINKING_SWITCHES.get(route.capabilities.reasoning_effort)
    if switch is not None and request.reasoning_effort is not None and "chat_template_kwargs" not in body:
        body["chat_template_kwargs"] = {switch: request.reasoning_effort not in ("none", "minimal")}
    return body


def build_prompt(prompt: str, fields: dict[str, Any], max_tokens: int, *, stream: bool, model: str) -> dict[str, Any]:
    """Legacy completions on a chat-only route: the prompt as one user message."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    body.update({name: value for name, value in fields.items() if value is not None})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _message(message: ChatMessage, traits: Capabilities) -> dict[str, Any]:
    # Earlier reasoning goes back only to the models that need it, in the field they read
    out = message.model_dump(exclude_unset=True, exclude=HISTORY_DROPPED)
    reasoning = history_reasoning(message, traits)
    if reasoning is not None:
        out[traits.history_reasoning] = reasoning
    return out


def parse_chat(payload: Any) -> UpstreamAnswer:
    result = unwrap_result(payload)  # some gateways wrap it in the v4 envelope
    if isinstance(result, dict):
        return openai_answer(result)
    return UpstreamAnswer(content=None if result is None else str(result))
