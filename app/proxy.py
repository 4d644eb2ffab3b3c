"""The one place the layers meet: route -> dialect.build -> upstream.post -> dialect.parse / relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import orjson

from app.catalog import Catalog, Route
from app.dialects import REGISTRY, Dialect
from app.dialects.base import ChatStreamTranslator
from app.dialects.context import ChatContext
from app.embedding_batches import EmbeddingJob
from app.errors import InvalidRequest, ProxyError, UpstreamError
from app.protocol.chat import ChatCompletion, ChatCompletionRequest
from app.protocol.embeddings import CreateEmbeddingResponse, EmbeddingRequest
from app.settings import Settings
from app.streaming import DONE_FRAME, ChunkEncoder, completion_as_stream, error_frame
from app.upstream.client import UpstreamClient, transport_error
from app.upstream.sse import SSEDecoder
from app.upstream.targets import WorkersAITarget, auth_headers

ChatStream = AsyncIterator[bytes]
CLEANUP_SECONDS = 2.0


class Proxy:
    def __init__(self, settings: Settings, upstream: UpstreamClient, target: WorkersAITarget, catalog: Catalog) -> None:
        self.settings = settings
        self.upstream = upstream
        self.target = target
        self.catalog = catalog

    # -- chat ---------------------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, token: str) -> ChatCompletion | ChatStream:
        route = self.catalog.resolve(request.model)
        if request.n is not None and request.n > 1:
            raise InvalidRequest("Only n=1 is supported.", param="n", code="unsupported_value")
        dialect = REGISTRY[route.dialect]
        max_tokens = (
            request.max_completion_tokens
            or request.max_tokens
            or self.settings.max_tokens_for(route.requested, route.model_id)
        )
        ctx = ChatContext.new(route.requested, max_tokens, request.include_usage)
        body = orjson.dumps(dialect.build_chat(request, route, max_tokens))
        url = self.target.url(dialect.chat_path(route.model_id))
        stream = bool(request.stream)
        response = await self.upstream.post(url, body, auth_headers(token, stream=stream), stream=stream)
        if not stream:
            return dialect.parse_chat(await _json_reply(response, dialect), ctx)
        return await self._open_stream(response, dialect, ctx)

    async def _open_stream(self, response: httpx.Response, dialect: Dialect, ctx: ChatContext) -> ChatStream:
        """Fail as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        encoder = ChunkEncoder(ctx.completion_id, ctx.created, ctx.model)
        if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
            try:
                await response.aread()
            except httpx.TransportError as exc:
                raise transport_error(exc) from exc
            finally:
                await response.aclose()
            # Some models answer a stream request with one JSON body: replay it as a stream.
            completion = dialect.parse_chat(await _json_reply(response, dialect), ctx)
            return _single(completion_as_stream(completion, encoder, ctx.include_usage))
        return relay(response, dialect.chat_stream(ctx, encoder))

    # -- embeddings ---------------------------------------------------------------------------
    async def embeddings(self, request: EmbeddingRequest, token: str) -> CreateEmbeddingResponse:
        route = self.catalog.resolve(request.model)
        job = EmbeddingJob.plan(request, route, self.catalog.embedding_model(route.model_id))
        dialect = REGISTRY[route.dialect]
        url = self.target.url(dialect.embeddings_path(route.model_id))
        headers = auth_headers(token, stream=False)

        async def embed(texts: list[str]) -> list[list[float]]:
            body = orjson.dumps(dialect.build_embeddings(texts, route))
            response = await self.upstream.post(url, body, headers, stream=False)
            return dialect.parse_embeddings(await _json_reply(response, dialect), len(texts))

        return await job.run(embed)


async def _json_reply(response: httpx.Response, dialect: Dialect) -> Any:
    if response.status_code != 200:
        raise dialect.error(response.status_code, response.content, dict(response.headers))
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None


async def _single(frames: bytes) -> ChatStream:
    yield frames


async def relay(response: httpx.Response, translator: ChatStreamTranslator) -> ChatStream:
    """Upstream SSE bytes -> OpenAI frames, each read forwarded as soon as it is translated."""
    decoder = SSEDecoder()
    try:
        yield translator.start()
        # Requested uncompressed: read the transport's stream directly, without httpx's per-chunk layers.
        chunks = response.aiter_bytes() if "content-encoding" in response.headers else response.stream
        async for chunk in chunks:  # type: ignore[union-attr]  # an async stream on every httpx.Response we get
            out = b"".join(translator.feed(data) for data in decoder.feed(chunk))
            if out:
                yield out
            if translator.done:
                return
        out = b"".join(translator.feed(data) for data in decoder.flush())
        if not translator.done:
            raise UpstreamError("The Workers AI stream ended before [DONE]; the answer is incomplete.")
        yield out
    except ProxyError as exc:
        yield error_frame(exc) + DONE_FRAME
    except httpx.TransportError as exc:
        yield error_frame(transport_error(exc)) + DONE_FRAME
    finally:
        # Runs on completion, failure and client disconnect alike; shielded so that a cancelled
        # request still closes (or returns) its upstream connection.
        with anyio.move_on_after(CLEANUP_SECONDS, shield=True):
            await response.aclose()


__all__ = ["ChatStream", "Proxy", "Route", "relay"]
