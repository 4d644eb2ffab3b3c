"""The emulator's Workers AI OpenAI-compatible endpoints (`/ai/v1/chat/completions`, `/ai/v1/embeddings`),
for `PROXY_UPSTREAM=openai` with `--emulator`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Any

import orjson
from aiohttp import web

from app.emulator import generate
from app.emulator.answers import plan_answer
from app.emulator.models import EMBEDDING_DIMENSIONS, TEXT_GENERATION_MODELS, UPSTREAM_DEFAULT_MAX_TOKENS


def openai_error(status: int, message: str) -> web.Response:
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": 5007 if status == 400 else 10000, "message": message}],
    }
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _body(request: web.Request, models: Collection[str]) -> tuple[dict[str, Any], str] | web.Response:
    """The request's JSON object and its model, one of `models`; or the error Workers AI would answer."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return openai_error(401, "Authentication error")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return openai_error(400, "AiError: Bad input: invalid JSON body")
    if not isinstance(body, dict):
        return openai_error(400, "AiError: Bad input: object expected")
    model = str(body.get("model", ""))
    if model not in models:
        return openai_error(400, f"No such model {model} or task")
    return body, model


async def chat_completions(request: web.Request) -> web.StreamResponse:
    parsed = await _body(request, TEXT_GENERATION_MODELS)
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    limit = body.get("max_tokens") or body.get("max_completion_tokens") or UPSTREAM_DEFAULT_MAX_TOKENS
    answer = plan_answer(model, body, int(limit))
    tool_calls = None
    if answer.tool_call is not None:
        function = {"name": answer.tool_call["name"], "arguments": orjson.dumps(answer.tool_call["arguments"]).decode()}
        tool_calls = [{"id": f"chatcmpl-tool-{time.time_ns()}", "type": "function", "function": function}]
    content = None if tool_calls else "".join(answer.tokens)
    finish = "tool_calls" if tool_calls else ("length" if len(answer.tokens) >= int(limit) else "stop")
    base = {"id": f"id-{time.time_ns() // 1_000_000}", "created": int(time.time()), "model": model}
    if not body.get("stream"):
        message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        completion = {**base, "object": "chat.completion", "choices": [choice], "usage": answer.usage}
        return web.Response(body=orjson.dumps(completion), content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    chunk = {**base, "object": "chat.completion.chunk"}
    delay = request.app[generate.DELAY_KEY]
    try:
        for token in answer.tokens:
            if delay > 0:
                await asyncio.sleep(delay)
            await response.write(_event({**chunk, "choices": [{"index": 0, "delta": {"content": token}}]}))
        if tool_calls:
            pieces = [{"index": 0, **tool_calls[0]}]
            await response.write(_event({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": pieces}}]}))
        final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": answer.usage}
        await response.write(_event(final) + b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response


async def embeddings(request: web.Request) -> web.Response:
    parsed = await _body(request, EMBEDDING_DIMENSIONS)
    if isinstance(parsed, web.Response):
        return parsed
    body, model = parsed
    raw = body.get("input")
    texts: list[Any] = raw if isinstance(raw, list) else [raw]
    data = [
        {"object": "embedding", "index": i, "embedding": generate.embedding(str(text), EMBEDDING_DIMENSIONS[model])}
        for i, text in enumerate(texts)
    ]
    tokens = sum(len(str(text).split()) for text in texts)
    reply = {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    return web.Response(body=orjson.dumps(reply), content_type="application/json")


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
