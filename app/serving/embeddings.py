"""POST /v1/embeddings: input checks, batches of the model's size, vectors in order. Retried, never falling
back: another model's vectors would not compare with this one's."""

from __future__ import annotations

import orjson

from app.dialects import supported
from app.embeddings.batches import EmbeddingJob, InputLimits, estimated_tokens
from app.exchange import Exchange
from app.models.catalogue import EMBEDDINGS
from app.models.embedding import embedding_model
from app.pipeline.core import Pipeline, Reply
from app.policies.cache import HITS_HEADER, ReplyCache, mark, unpacked
from app.protocol.embeddings import EmbeddingRequest
from app.routing.route import Route

PATH = "/v1/embeddings"


class Embeddings:
    def __init__(self, pipeline: Pipeline, limits: InputLimits, cache: ReplyCache | None = None) -> None:
        self.pipeline = pipeline
        self.limits = limits
        self.cache = cache

    async def create(self, request: EmbeddingRequest, exchange: Exchange) -> Reply:
        route = self.pipeline.route(exchange, request.model, EMBEDDINGS, PATH)
        job = EmbeddingJob.plan(request, route, embedding_model(route.model_id), self.limits)
        self.pipeline.estimate_tokens(exchange, 0)
        return await self.pipeline.run(
            exchange, route, lambda route, deadline: self._serve(job, route, exchange, deadline)
        )

    async def _serve(self, job: EmbeddingJob, route: Route, exchange: Exchange, deadline: float) -> Reply:
        translator = supported(self.pipeline.dialect(route).embeddings, route, "embeddings")
        call = self.pipeline.call(exchange, route, "embeddings", deadline)
        model = call.destination.model
        client = self.pipeline.client
        relayed: dict[str, str] = {}
        cache = self.cache
        sent: list[str] = []  # with the cache: what went upstream
        kept: list[tuple[str, bytes]] = []  # and what of it is kept (packed float32)

        async def embed(texts: list[str]) -> list[list[float]]:
            body = orjson.dumps(translator.build(texts, route, model))
            payload, headers = await client.json(call, body)
            relayed.update(headers)
            vectors = translator.parse(payload, len(texts))
            if cache is None:
                return vectors
            sent.extend(texts)
            packed = cache.packed(vectors) if exchange.cache_store else None
            if packed is None:
                return vectors
            kept.extend(zip(texts, packed, strict=True))
            return [unpacked(raw) for raw in packed]  # as a hit will answer: float32, the same to the last digit

        if cache is None:
            reply = await job.run(embed)
            tokens = reply["usage"]["prompt_tokens"]
            return Reply(reply, relayed, {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens})
        keys = cache.embedding_keys(route, job.texts, exchange)
        known = await cache.vectors(keys, exchange)
        hits = sum(vector is not None for vector in known)
        reply = await job.run(embed, known)
        texts = sent
        if kept:
            key_of = dict(zip(job.texts, keys, strict=True))
            await cache.keep_vectors([key_of[text] for text, _ in kept], [raw for _, raw in kept], exchange)
        mark(exchange, "hit" if hits == len(keys) else "miss")
        if 0 < hits < len(keys):  # partly from the cache: how much
            exchange.reply_headers[HITS_HEADER] = f"{hits}/{len(keys)}"
        tokens = estimated_tokens(texts)  # what the upstream was asked to embed
        return Reply(reply, relayed, {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens})
