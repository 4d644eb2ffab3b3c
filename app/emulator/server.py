"""The emulator's HTTP side: `POST /client/v4/accounts/{account}/ai/run/{model}` on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from app.emulator import generate, openai_routes
from app.emulator.answers import plan_answer
from app.emulator.generate import DELAY_KEY
from app.emulator.models import (
    EMBEDDING_DIMENSIONS,
    EMBEDDING_MAX_ITEMS,
    TEXT_GENERATION_MODELS,
    UPSTREAM_DEFAULT_MAX_TOKENS,
    catalogue_properties,
)


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    api_base: str  # e.g. http://127.0.0.1:41234/client/v4


@asynccontextmanager
async def start_emulator(token_delay_seconds: float = 0.02) -> AsyncIterator[RunningEmulator]:
    app = web.Application()
    app[DELAY_KEY] = token_delay_seconds
    app.router.add_post("/client/v4/accounts/{account}/ai/run/{model:.+}", run_model)
    app.router.add_get("/client/v4/accounts/{account}/ai/models/search", search_models)
    app.router.add_post("/client/v4/accounts/{account}/ai/v1/chat/completions", openai_routes.chat_completions)
    app.router.add_post("/client/v4/accounts/{account}/ai/v1/embeddings", openai_routes.embeddings)
    app.router.add_get("/client/v4/user/tokens/verify", verify_token)
    app.router.add_get("/client/v4/accounts/{account}/tokens/verify", verify_token)
    app.router.add_get("/client/v4/accounts/{account}/ai-gateway/gateways/{gateway}", gateway)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield RunningEmulator(api_base=f"http://127.0.0.1:{port}/client/v4")
    finally:
        await runner.cleanup()


async def verify_token(request: web.Request) -> web.Response:
    """Token verification (wire spec 9.15): any bearer token is a valid one here."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return envelope_error(401, 1000, "Invalid API Token")
    return success({"id": "emulated-token", "status": "active"})


async def gateway(request: web.Request) -> web.Response:
    """Any gateway id exists on the emulated account."""
    return success({"id": request.match_info["gateway"], "collect_logs": True, "cache_ttl": 0})


async def search_models(request: web.Request) -> web.Response:
    """The catalogue of the models the emulator answers for, paged like `/ai/models/search`."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return envelope_error(401, 10000, "Authentication error")
    page, per_page = int(request.query.get("page", "1")), int(request.query.get("per_page", "20"))
    names = [(m, "Text Generation") for m in sorted(TEXT_GENERATION_MODELS)]
    names += [(m, "Text Embeddings") for m in sorted(EMBEDDING_DIMENSIONS)]
    chunk = names[(page - 1) * per_page : page * per_page]
    models = [
        {
            "name": name,
            "description": "emulated",
            "task": {"name": task},
            "created_at": "2025-01-01 00:00:00",
            "properties": catalogue_properties(name),
        }
        for name, task in chunk
    ]
    info = {"count": len(models), "page": page, "per_page": per_page, "total_count": len(names)}
    body = {"result": models, "result_info": info, "success": True, "errors": [], "messages": []}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def envelope_error(status: int, code: int, message: str) -> web.Response:
    body = {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def success(result: Any) -> web.Response:
    body = {"result": result, "success": True, "errors": [], "messages": []}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def run_model(request: web.Request) -> web.StreamResponse:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return envelope_error(401, 10000, "Authentication error")
    model = request.match_info["model"]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return envelope_error(400, 5006, "AiError: Bad input: invalid JSON body")
    if not isinstance(body, dict):
        return envelope_error(400, 5006, "AiError: Bad input: Type mismatch of '/', 'object' expected")
    if model in EMBEDDING_DIMENSIONS:
        return embed(body, EMBEDDING_DIMENSIONS[model])
    if model in TEXT_GENERATION_MODELS:
        return await generate_text(request, model, body)
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


async def generate_text(request: web.Request, model: str, body: dict[str, Any]) -> web.StreamResponse:
    if not isinstance(body.get("messages"), list) and not isinstance(body.get("prompt"), str):
        return envelope_error(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met, 0 matches")
    limit = body.get("max_tokens", UPSTREAM_DEFAULT_MAX_TOKENS)
    if not isinstance(limit, int) or limit < 1:
        return envelope_error(400, 5006, "AiError: Bad input: Type mismatch of '/max_tokens'")
    answer = plan_answer(model, body, limit)
    tool_call, json_answer, tokens, usage = answer.tool_call, answer.json, answer.tokens, answer.usage
    if not body.get("stream") or json_answer is not None:  # Workers AI's JSON mode does not stream
        result: dict[str, Any] = {"response": None, "tool_calls": [tool_call], "usage": usage}
        if tool_call is None:
            result = {
                "response": json_answer if json_answer is not None else "".join(tokens),
                "tool_calls": [],
                "usage": usage,
            }
        return success(result)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    delay = request.app[DELAY_KEY]
    try:
        for index, token in enumerate(tokens):
            if delay > 0:
                await asyncio.sleep(delay)
            await response.write(_event({"response": token, "p": generate.padding(index)}))
        if tool_call is not None:
            await response.write(_event({"response": "", "tool_calls": [tool_call]}))
        await response.write(_event({"response": ""}) + _event({"response": "", "usage": usage}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except ConnectionResetError:
        pass  # the proxy's client went away and the proxy closed the stream: nothing left to do
    return response


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
