"""The one place the layers meet: route -> dialect.build -> upstream.request/open -> dialect.parse / relay."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import Any

import httpx
import orjson

from app.catalog import Catalog
from app.dialects import REGISTRY, Dialect
from app.dialects.base import ChatStreamTranslator
from app.dialects.context import ChatContext
from app.embedding_batches import EmbeddingJob
from app.errors import InvalidRequest, ProxyError, UpstreamError
from app.protocol.chat import ChatCompletion, ChatCompletionRequest
from app.protocol.embeddings import CreateEmbeddingResponse, EmbeddingRequest
from app.settings import Settings
from app.streaming import DONE_FRAME, ChunkEncoder, completion_as_stream, error_frame
from app.upstream.client import UpstreamClient, UpstreamReply, raw_chunks, transport_error
from app.upstream.sse import SSEDecoder
from app.upstream.targets import WorkersAITarget, auth_headers

ChatStream = AsyncIterable[bytes]  # SSE frames, already encoded


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
        if not stream:
            reply = await self.upstream.request(url, body, auth_headers(token, stream=False))
            return dialect.parse_chat(_json_reply(reply, dialect), ctx)
        response = await self.upstream.open(url, body, auth_headers(token, stream=True))
        return await self._open_stream(response, dialect, ctx)

    async def _open_stream(self, response: httpx.Response, dialect: Dialect, ctx: ChatContext) -> ChatStream:
        """Fail as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        encoder = ChunkEncoder(ctx.completion_id, ctx.created, ctx.model)
        if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
            # An error, or a model that answered a stream request with one JSON body: replay it as a stream.
            completion = dialect.parse_chat(_json_reply(await self.upstream.read(response), dialect), ctx)
            return _single(completion_as_stream(completion, encoder, ctx.include_usage))
        return RelayedStream(response, dialect.chat_stream(ctx, encoder))

    # -- embeddings ---------------------------------------------------------------------------
    async def embeddings(self, request: EmbeddingRequest, token: str) -> CreateEmbeddingResponse:
        route = self.catalog.resolve(request.model)
        job = EmbeddingJob.plan(request, route, self.catalog.embedding_model(route.model_id))
        dialect = REGISTRY[route.dialect]
        url = self.target.url(dialect.embeddings_path(route.model_id))
        headers = auth_headers(token, stream=False)

        async def embed(texts: list[str]) -> list[list[float]]:
            body = orjson.dumps(dialect.build_embeddings(texts, route))
            reply = await self.upstream.request(url, body, headers)
            return dialect.parse_embeddings(_json_reply(reply, dialect), len(texts))

        return await job.run(embed)


def _json_reply(reply: UpstreamReply, dialect: Dialect) -> Any:
    if reply.status != 200:
        raise dialect.error(reply.status, reply.body, dict(reply.headers))
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None


async def _single(frames: bytes) -> AsyncIterator[bytes]:
    yield frames


class RelayedStream:
    """The relay's frames, and a close that releases the upstream response even if the frames were never
    iterated (a client gone before the first one)."""

    __slots__ = ("_frames", "_response")

    def __init__(self, response: httpx.Response, translator: ChatStreamTranslator) -> None:
        self._response = response
        self._frames = relay(response, translator)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames  # iterated directly: no indirection per frame

    async def aclose(self) -> None:
        await self._frames.aclose()
        await self._response.aclose()


async def relay(response: httpx.Response, translator: ChatStreamTranslator) -> AsyncGenerator[bytes, None]:
    """Upstream SSE bytes -> OpenAI frames, each read forwarded as soon as it is translated.

    The opening frames (the role delta) travel with the first token in one write, and the first token
    leaves before the rest of its read is translated: time to first token is what a user sees.
    """
    decoder = SSEDecoder()
    opening = translator.start()
    try:
        async for chunk in raw_chunks(response):
            out = b""
            for data in decoder.feed(chunk):
                out += translator.feed(data)
                if out and opening:
                    yield opening + out
                    opening = out = b""
            if out:
                yield out
            if translator.done:
                return
        out = b"".join(translator.feed(data) for data in decoder.flush())
        if not translator.done:
            raise UpstreamError("The Workers AI stream ended before [DONE]; the answer is incomplete.")
        yield opening + out
    except ProxyError as exc:
        yield opening + error_frame(exc) + DONE_FRAME
    except httpx.TransportError as exc:
        yield opening + error_frame(transport_error(exc)) + DONE_FRAME
    finally:
        # Runs on completion, failure and client disconnect alike. Closing does not wait on the network
        # (an unfinished body just drops its connection), so a cancelled stream still gets here in full.
        await response.aclose()
