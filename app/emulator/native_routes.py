"""Workers AI's own route, `POST /accounts/{account}/ai/run/{model}` (also behind AI Gateway's workers-ai
provider route): text generation whole or streamed, and embeddings, in the v4 envelope (wire spec 1-3)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from app.emulator import generate, media_routes
from app.emulator.answers import plan_answer
from app.emulator.models import EMBEDDING_MAX_ITEMS, UPSTREAM_DEFAULT_MAX_TOKENS
from app.emulator.replies import client_left, envelope_error, event, refusal, success
from app.emulator.world import WORLD_KEY


async def run_model(request: web.Request) -> web.StreamResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    return await answer(request, request.match_info["model"])


async def answer(request: web.Request, model: str, headers: dict[str, str] | None = None) -> web.StreamResponse:
    """The model's answer to the request's body (also reached through AI Gateway)."""
    world = request.app[WORLD_KEY]
    if media_routes.serves(model):  # images, audio, rerankers, Llama Guard: their own wire forms
        return await media_routes.answer(request, model)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return envelope_error(400, 5006, "AiError: Bad input: invalid JSON body")
    if not isinstance(body, dict):
        return envelope_error(400, 5006, "AiError: Bad input: Type mismatch of '/', 'object' expected")
    if model in world.embedding_dimensions:
        return embed(body, world.embedding_dimensions[model])
    if world.chat_models(model):
        return await generate_text(request, model, body, headers or {})
    return envelope_error(400, 5007, f"No such model {model} or task")


def embed(body: dict[str, Any], dimensions: int) -> web.Response:
    text = body.get("text")
    texts = [text] if isinstance(text, str) else text
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        return envelope_error(400, 5006, "AiError: Bad input: required property 'text' not met")
    if len(texts) > EMBEDDING_MAX_ITEMS:
        return envelope_error(
            400, 5006, f"AiError: Bad input: '/text' must NOT have more than {EMBEDDING_MAX_ITEMS} items"
        )
    vectors = [generate.embedding(t, dimensions) for t in texts]
    return success({"shape": [len(vectors), dimensions], "data": vectors, "pooling": "mean"})


async def generate_text(
    request: web.Request, model: str, body: dict[str, Any], headers: dict[str, str]
) -> web.StreamResponse:
    if not isinstance(body.get("messages"), list) and not isinstance(body.get("prompt"), str):
        return envelope_error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met, 0 matches")
    limit = body.get("max_tokens", UPSTREAM_DEFAULT_MAX_TOKENS)
    if not isinstance(limit, int) or limit < 1:
        return envelope_error(400, 5006, "AiError: Bad input: Type mismatch of '/max_tokens'")
    planned = plan_answer(model, body, limit)
    tool_call, json_answer, tokens, usage = planned.tool_call, planned.json, planned.tokens, planned.usage
    if not body.get("stream") or json_answer is not None:  # Workers AI's JSON mode does not stream
        result: dict[str, Any] = {"response": None, "tool_calls": [tool_call], "usage": usage}
        if tool_call is None:
            result = {
                "response": json_answer if json_answer is not None else "".join(tokens),
                "tool_calls": [],
                "usage": usage,
            }
        return success(result)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers})
    await response.prepare(request)
    delay = request.app[generate.DELAY_KEY]
    try:
        for index, token in enumerate(tokens):
            if delay > 0:
                await asyncio.sleep(delay)
            await response.write(event({"response": token, "p": generate.padding(index)}))
        if tool_call is not None:
            await response.write(event({"response": "", "tool_calls": [tool_call]}))
        await response.write(event({"response": ""}) + event({"response": "", "usage": usage}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionResetError:
        client_left(request)  # the proxy's client went away and the proxy closed the stream
    except asyncio.CancelledError:
        client_left(request)
        raise
    return response
