"""Workers AI's OpenAI-compatible endpoints (`/ai/v1/chat/completions`, `/ai/v1/embeddings`, and the same behind
AI Gateway), for `PROXY_UPSTREAM=openai` or `compat` with `--emulator`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from aiohttp import web

from app.emulator import generate
from app.emulator.answers import plan_answer
from app.emulator.models import UPSTREAM_DEFAULT_MAX_TOKENS
from app.emulator.replies import client_left, envelope_error, event, json_object, json_response, refusal
from app.emulator.world import WORLD_KEY


def openai_error(status: int, message: str) -> web.Response:
    return envelope_error(status, 5007 if status == 400 else 10000, message)


async def chat_route(request: web.Request) -> web.StreamResponse:
    refused = refusal(request)
    return refused if refused is not None else await chat_completions(request, await json_object(request))


async def embeddings_route(request: web.Request) -> web.StreamResponse:
    refused = refusal(request)
    return refused if refused is not None else embeddings(request, await json_object(request))


async def chat_completions(
    request: web.Request, body: Any, served_as: str | None = None, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """`served_as`: the model name to answer with (another provider's model through AI Gateway's compat API);
    `headers`: what a stream adds as it starts (AI Gateway's)."""
    world = request.app[WORLD_KEY]
    if not isinstance(body, dict):
        return openai_error(400, "AiError: Bad input: object expected")
    model = str(body.get("model", ""))
    if served_as is None and not world.chat_models(model):
        return openai_error(400, f"No such model {model} or task")
    limit = body.get("max_tokens") or body.get("max_completion_tokens") or UPSTREAM_DEFAULT_MAX_TOKENS
    answer = plan_answer(model, body, int(limit))
    tool_calls = None
    if answer.tool_call is not None:
        function = {"name": answer.tool_call["name"], "arguments": orjson.dumps(answer.tool_call["arguments"]).decode()}
        tool_calls = [{"id": f"chatcmpl-tool-{time.time_ns()}", "type": "function", "function": function}]
    content = None if tool_calls else "".join(answer.tokens)
    finish = "tool_calls" if tool_calls else ("length" if len(answer.tokens) >= int(limit) else "stop")
    base = {"id": f"id-{time.time_ns() // 1_000_000}", "created": int(time.time()), "model": served_as or model}
    if not body.get("stream"):
        message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        return json_response({**base, "object": "chat.completion", "choices": [choice], "usage": answer.usage})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **(headers or {})})
    await response.prepare(request)
    chunk = {**base, "object": "chat.completion.chunk"}
    delay = request.app[generate.DELAY_KEY]
    try:
        for token in answer.tokens:
            if delay > 0:
                await asyncio.sleep(delay)
            await response.write(event({**chunk, "choices": [{"index": 0, "delta": {"content": token}}]}))
        if tool_calls:
            pieces = [{"index": 0, **tool_calls[0]}]
            await response.write(event({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": pieces}}]}))
        final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": answer.usage}
        await response.write(event(final) + b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionResetError:
        client_left(request)
    except asyncio.CancelledError:
        client_left(request)
        raise
    return response


def embeddings(request: web.Request, body: Any) -> web.Response:
    world = request.app[WORLD_KEY]
    if not isinstance(body, dict):
        return openai_error(400, "AiError: Bad input: object expected")
    model = str(body.get("model", ""))
    dimensions = world.embedding_dimensions.get(model)
    if dimensions is None:
        return openai_error(400, f"No such model {model} or task")
    raw = body.get("input")
    texts: list[Any] = raw if isinstance(raw, list) else [raw]
    data = [
        {"object": "embedding", "index": i, "embedding": generate.embedding(str(text), dimensions)}
        for i, text in enumerate(texts)
    ]
    tokens = sum(len(str(text).split()) for text in texts)
    return json_response(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )
