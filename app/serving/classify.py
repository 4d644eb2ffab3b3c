"""POST /v1/rerank (documents scored against a query, best first) and POST /v1/moderations (Llama Guard's verdict
on each input, as OpenAI's categories)."""

from __future__ import annotations

import random
from typing import Any

from app.dialects.native.classify import build_guard, build_rerank, guard_response, parse_rerank
from app.errors import InvalidRequest
from app.exchange import Exchange
from app.media.moderation import result, verdict
from app.models.known import CHAT
from app.models.media import CLASSIFICATION, DEFAULT_MODERATION_MODEL, MODERATION_MODELS, OPENAI_MODERATION_NAMES
from app.pipeline.core import Pipeline, Reply
from app.pipeline.gather import gather_all
from app.protocol.moderations import ModerationRequest
from app.protocol.rerank import RerankRequest
from app.routing.route import Route

RERANK = "/v1/rerank"
MODERATIONS = "/v1/moderations"
CHARS_PER_TOKEN = 4


class Classify:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def rerank(self, request: RerankRequest, exchange: Exchange) -> Reply:
        route = self.pipeline.route(exchange, request.model, CLASSIFICATION, RERANK)
        texts = [d if isinstance(d, str) else d.text for d in request.documents]
        body = build_rerank(request.query, texts)
        tokens = (len(request.query) * len(texts) + sum(map(len, texts))) // CHARS_PER_TOKEN + 1
        self.pipeline.estimate_tokens(exchange, 0)

        async def serve(route: Route, deadline: float) -> Reply:
            call = self.pipeline.call(exchange, route, "media", deadline)
            reply = await self.pipeline.client.media(call, body, "application/json")
            scores = sorted(parse_rerank(reply.result, len(texts)), key=lambda pair: -pair[1])
            results: list[dict[str, Any]] = []
            for index, score in scores[: request.top_n or len(scores)]:
                found: dict[str, Any] = {"index": index, "relevance_score": score}
                if request.return_documents:
                    found["document"] = {"text": texts[index]}
                results.append(found)
            answer = {
                "id": f"rerank-{random.getrandbits(96):024x}",
                "object": "list",
                "model": route.requested,
                "results": results,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
            return Reply(
                answer, reply.headers, {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
            )

        return await self.pipeline.run(exchange, route, serve)

    async def moderate(self, request: ModerationRequest, exchange: Exchange) -> Reply:
        asked = request.model
        name = DEFAULT_MODERATION_MODEL if asked is None or asked in OPENAI_MODERATION_NAMES else asked
        route = self.pipeline.route(exchange, name, CHAT, MODERATIONS)
        if route.model_id not in MODERATION_MODELS:
            raise InvalidRequest(
                f"{route.requested} is not a moderation model; use {', '.join(sorted(MODERATION_MODELS))}.",
                param="model",
                code="model_not_supported",
            )
        texts = _texts(request.input)
        self.pipeline.estimate_tokens(exchange, 0)

        async def serve(route: Route, deadline: float) -> Reply:
            call = self.pipeline.call(exchange, route, "media", deadline)
            client = self.pipeline.client
            replies = await gather_all([client.media(call, build_guard(text), "application/json") for text in texts])
            results, headers, used = [], {}, 0
            for reply in replies:
                results.append(result(*verdict(guard_response(reply.result))))
                headers.update(reply.headers)
                usage = reply.result.get("usage") if isinstance(reply.result, dict) else None
                if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int | float):
                    used += int(usage["total_tokens"])
            answer = {"id": f"modr-{random.getrandbits(96):024x}", "model": route.requested, "results": results}
            return Reply(
                answer, headers, {"prompt_tokens": used, "completion_tokens": 0, "total_tokens": used} if used else None
            )

        return await self.pipeline.run(exchange, route, serve)


def _texts(value: str | list[str] | list[dict[str, Any]]) -> list[str]:
    if isinstance(value, str):
        texts = [value]
    elif all(isinstance(item, str) for item in value):
        texts = [str(item) for item in value]
    else:  # content parts: Llama Guard 3 8B reads text only
        texts = []
        for part in value:
            kind = part.get("type") if isinstance(part, dict) else None
            written = part.get("text") if isinstance(part, dict) else None
            if kind == "text" and isinstance(written, str):
                texts.append(written)
            else:
                raise InvalidRequest(
                    f"Llama Guard 3 reads text only: an input part of type {kind!r} cannot be moderated.",
                    param="input",
                )
        texts = [" ".join(texts)] if texts else []  # parts make one input
    if not texts or len(texts) > 32:
        raise InvalidRequest("'input' must hold 1 to 32 texts.", param="input")
    if not all(texts):
        raise InvalidRequest("'input' must not hold empty texts.", param="input")
    return texts
