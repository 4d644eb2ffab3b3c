"""A whole upstream reply, in any dialect, turned into OpenAI choices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.chat.ids import CompletionIds
from app.chat.plan import OutputPlan
from app.chat.reasoning import split_think
from app.chat.stop import cut_at_stop
from app.chat.tool_calls import openai_tool_calls, tool_calls_in_text
from app.protocol.chat import ChatCompletion
from app.protocol.common import Usage
from app.protocol.completions import Completion

Shape = Callable[["FinalChoice", dict[str, Any]], tuple[dict[str, Any], str]]
FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


@dataclass(slots=True)
class UpstreamAnswer:
    """What a dialect read from one upstream reply, before any OpenAI semantics are applied."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[Any] = field(default_factory=list)  # raw: flat or OpenAI-shaped
    finish: str | None = None
    usage: Usage | None = None


@dataclass(slots=True)
class FinalChoice:
    content: str | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    usage: Usage | None
    stop_sequence: str | None = None  # the stop sequence the proxy cut the answer at


def finish_reason(
    upstream: Any,
    usage: Usage | None,
    max_tokens: int,
    *,
    tool_calls: bool,
    stopped: bool,
    unfinished_thinking: bool,
) -> str:
    if tool_calls:
        return "tool_calls"
    if stopped:
        return "stop"
    if unfinished_thinking:
        return "length"  # the whole budget went on reasoning: not an empty success
    if usage is not None and usage.get("completion_tokens", 0) >= max_tokens and upstream in (None, "stop"):
        return "length"  # Workers AI reports "stop" (or nothing) even when the budget ran out
    if isinstance(upstream, str) and upstream in FINISH_REASONS and upstream != "tool_calls":
        return upstream
    return "stop"


def finalize(answer: UpstreamAnswer, plan: OutputPlan) -> FinalChoice:
    content = answer.content or ""
    reasoning = answer.reasoning or None
    unfinished = False
    if plan.think is not None and content:
        thought, content, unfinished = split_think(content, plan.think == "implicit")
        if thought is not None:
            reasoning = (reasoning or "") + thought
    calls = openai_tool_calls(answer.tool_calls)
    if not calls and plan.tool_names and content:
        calls, content = tool_calls_in_text(content, plan.tool_names)
    sequence = None
    if plan.stop and content:
        content, sequence = cut_at_stop(content, plan.stop)
    reason = finish_reason(
        answer.finish,
        answer.usage,
        plan.max_tokens,
        tool_calls=bool(calls),
        stopped=sequence is not None,
        unfinished_thinking=unfinished and not content,
    )
    return FinalChoice(
        content=None if calls and not content.strip() else content,
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=reason,
        usage=answer.usage,
        stop_sequence=sequence if reason == "stop" else None,
    )


def total_usage_of(all_usages: list[Usage | None], prompts: int = 1) -> Usage | None:
    """Choices of `prompts` distinct prompts (n answers each): a prompt counts once, completions add up."""
    usages = [u for u in all_usages if u is not None]
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]
    per_prompt = max(1, len(usages) // max(1, prompts))
    prompt = sum(u["prompt_tokens"] for u in usages[::per_prompt])
    completion = sum(u.get("completion_tokens", 0) for u in usages)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_message(choice: FinalChoice) -> dict[str, Any]:
    # `refusal` is required by OpenAI's schema (null when there is none); `annotations` as OpenAI sends it
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None, "annotations": []}
    if choice.reasoning:
        message["reasoning_content"] = choice.reasoning
    if choice.tool_calls:
        message["tool_calls"] = choice.tool_calls
    return message


def chat_completion(ctx: CompletionIds, choices: list[FinalChoice], shape: Shape | None = None) -> ChatCompletion:
    """`shape` rewrites each message and finish reason (the legacy `function_call` form)."""
    rows = []
    for i, choice in enumerate(choices):
        message, reason = chat_message(choice), choice.finish_reason
        if shape is not None:
            message, reason = shape(choice, message)
        rows.append({"index": i, "message": message, "logprobs": None, "finish_reason": reason})
    completion: dict[str, Any] = {
        "id": ctx.completion_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": rows,
    }
    usage = total_usage_of([choice.usage for choice in choices])
    if usage is not None:
        completion["usage"] = usage
    return completion  # type: ignore[return-value]  # built as a plain dict on purpose: one serialization


def text_completion(ctx: CompletionIds, choices: list[FinalChoice], prefixes: list[str], prompts: int) -> Completion:
    completion: dict[str, Any] = {
        "id": ctx.completion_id,
        "object": "text_completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "text": prefix + (choice.content or ""),
                "index": i,
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
            for i, (choice, prefix) in enumerate(zip(choices, prefixes, strict=True))
        ],
    }
    usage = total_usage_of([choice.usage for choice in choices], prompts)
    if usage is not None:
        completion["usage"] = usage
    return completion  # type: ignore[return-value]  # as above
