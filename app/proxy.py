"""The one place the layers meet: route -> checks -> dialect.build -> upstream -> dialect.parse / relay."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import httpx
import orjson

from app.catalog import Catalog, Route
from app.chat.answer import UpstreamAnswer, chat_completion, finalize, text_completion
from app.chat.choice_stream import ChoiceStream
from app.chat.context import CompletionContext
from app.chat.images import Fetch, has_remote_images, inline_remote_images
from app.chat.plan import OutputPlan
from app.chat.request import check_chat_request, check_completion_request, output_plan, stop_sequences
from app.dialects import REGISTRY, Dialect
from app.embedding_batches import EmbeddingJob
from app.errors import InvalidRequest, UpstreamError
from app.protocol.chat import ChatCompletion, ChatCompletionRequest
from app.protocol.completions import Completion, CompletionRequest
from app.protocol.embeddings import CreateEmbeddingResponse, EmbeddingRequest
from app.relay import Frames, StreamBody, answer_frames, choice_frames, prefixed
from app.settings import Settings
from app.streaming import ChunkEncoder, CompletionChunkEncoder, FrameEncoder
from app.upstream.client import UpstreamClient, UpstreamReply
from app.upstream.targets import WorkersAITarget, auth_headers

T = TypeVar("T")
COMPLETION_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
)


class Proxy:
    def __init__(
        self,
        settings: Settings,
        upstream: UpstreamClient,
        target: WorkersAITarget,
        catalog: Catalog,
        fetch_image: Fetch | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.target = target
        self.catalog = catalog
        self.fetch_image = fetch_image

    # -- chat ---------------------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, token: str) -> ChatCompletion | StreamBody:
        route = self.catalog.resolve(request.model)
        check_chat_request(request, route, self.settings.proxy_max_n)
        if has_remote_images(request):
            if self.fetch_image is None:
                raise InvalidRequest("Image URLs are not fetched by this proxy; send data: URLs.", param="messages")
            request = await inline_remote_images(request, self.fetch_image)
        max_tokens = self._max_tokens(request.max_completion_tokens or request.max_tokens, route)
        plan = output_plan(request, route, max_tokens)
        ctx = CompletionContext.new(route.requested, request.include_usage)
        dialect = REGISTRY[route.dialect]
        n = request.n or 1
        # Workers AI's JSON mode does not stream: the whole answer is fetched and replayed as a stream.
        upstream_stream = bool(request.stream) and not _json_mode(request)
        body = orjson.dumps(dialect.build_chat(request, route, max_tokens, stream=upstream_stream))
        url = self.target.url(dialect.chat_path(route.model_id))
        if not request.stream:
            answers = await _all([self._answer(dialect, url, body, token) for _ in range(n)])
            return chat_completion(ctx, [finalize(answer, plan) for answer in answers])
        encoders = [ChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i) for i in range(n)]
        return await self._stream(dialect, url, [body] * n, token, plan, encoders, upstream_stream, ctx.include_usage)

    # -- legacy completions ---------------------------------------------------------------------
    async def completions(self, request: CompletionRequest, token: str) -> Completion | StreamBody:
        route = self.catalog.resolve(request.model)
        prompts = check_completion_request(request, self.settings.proxy_max_n)
        max_tokens = self._max_tokens(request.max_tokens, route)
        plan = OutputPlan(max_tokens=max_tokens, think=None, stop=stop_sequences(request.stop))
        ctx = CompletionContext.new(route.requested, request.include_usage, prefix="cmpl-")
        dialect = REGISTRY[route.dialect]
        n = request.n or 1
        fields = {name: getattr(request, name) for name in COMPLETION_FIELDS}
        stream = bool(request.stream)
        jobs = [prompt for prompt in prompts for _ in range(n)]  # choices ordered by prompt, then by n
        bodies = [orjson.dumps(dialect.build_prompt(p, fields, route, max_tokens, stream=stream)) for p in jobs]
        url = self.target.url(dialect.chat_path(route.model_id))
        echoes = [prompt if request.echo else "" for prompt in jobs]
        if not stream:
            answers = await _all([self._answer(dialect, url, body, token) for body in bodies])
            return text_completion(ctx, [finalize(a, plan) for a in answers], echoes, len(prompts))
        encoders = [CompletionChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i) for i in range(len(jobs))]
        return await self._stream(
            dialect, url, bodies, token, plan, encoders, True, ctx.include_usage, echoes=echoes, prompts=len(prompts)
        )

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

    # -- shared -------------------------------------------------------------------------------
    def _max_tokens(self, asked: int | None, route: Route) -> int:
        return asked or self.settings.max_tokens_for(route.requested, route.model_id)

    async def _answer(self, dialect: Dialect, url: str, body: bytes, token: str) -> UpstreamAnswer:
        reply = await self.upstream.request(url, body, auth_headers(token, stream=False))
        return dialect.parse_chat(_json_reply(reply, dialect))

    async def _stream(
        self,
        dialect: Dialect,
        url: str,
        bodies: Sequence[bytes],
        token: str,
        plan: OutputPlan,
        encoders: Sequence[FrameEncoder],
        upstream_stream: bool,
        include_usage: bool,
        *,
        echoes: Sequence[str] | None = None,
        prompts: int = 1,
    ) -> StreamBody:
        sinks = [ChoiceStream(encoder, plan) for encoder in encoders]
        opens = [
            self._open_choice(dialect, url, b, token, sink, upstream_stream)
            for b, sink in zip(bodies, sinks, strict=True)
        ]
        opened = await _settle(opens)
        responses = [item[1] for item in opened if isinstance(item, tuple) and item[1] is not None]
        failure = next((item for item in opened if isinstance(item, BaseException)), None)
        if failure is not None:
            for response in responses:
                await response.aclose()
            raise failure
        choices: list[Frames] = [item[0] for item in opened if isinstance(item, tuple)]
        if echoes is not None:
            choices = [
                prefixed(encoder, echo, choice) if echo else choice
                for encoder, echo, choice in zip(encoders, echoes, choices, strict=True)
            ]
        usage_encoder = encoders[0] if include_usage else None
        return StreamBody(choices, sinks, usage_encoder, responses, prompts)

    async def _open_choice(
        self, dialect: Dialect, url: str, body: bytes, token: str, sink: ChoiceStream, upstream_stream: bool
    ) -> tuple[Frames, httpx.Response | None]:
        """Fails as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        if not upstream_stream:
            return answer_frames(await self._answer(dialect, url, body, token), sink), None
        response = await self.upstream.open(url, body, auth_headers(token, stream=True))
        if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
            # An error, or a model that answered a stream request with one JSON body: replay it.
            answer = dialect.parse_chat(_json_reply(await self.upstream.read(response), dialect))
            return answer_frames(answer, sink), None
        return choice_frames(response, dialect.chat_stream(sink), sink), response


async def _all(jobs: list[Coroutine[Any, Any, T]]) -> list[T]:
    """`asyncio.gather`, without its task and extra loop turns for the usual single job."""
    if len(jobs) == 1:
        return [await jobs[0]]
    return list(await asyncio.gather(*jobs))


async def _settle(jobs: list[Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """As `_all`, but every job runs to its end and failures are returned, not raised."""
    if len(jobs) == 1:
        try:
            return [await jobs[0]]
        except Exception as exc:
            return [exc]
    return list(await asyncio.gather(*jobs, return_exceptions=True))


def _json_mode(request: ChatCompletionRequest) -> bool:
    return request.response_format is not None and request.response_format.type != "text"


def _json_reply(reply: UpstreamReply, dialect: Dialect) -> Any:
    if reply.status != 200:
        raise dialect.error(reply.status, reply.body, dict(reply.headers))
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None
