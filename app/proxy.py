"""The one place the layers meet: route -> checks -> dialect.build -> upstream -> dialect.parse / relay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
import orjson

from app import gateway
from app.catalog import Catalog, Route
from app.chat.answer import UpstreamAnswer, chat_completion, finalize, text_completion
from app.chat.choice_stream import ChoiceStream
from app.chat.context import CompletionContext
from app.chat.images import Fetch, has_remote_images, inline_remote_images
from app.chat.plan import OutputPlan
from app.chat.request import check_chat_request, check_completion_request, output_plan, stop_sequences
from app.dialects import REGISTRY, Dialect
from app.dialects.common import unwrap_result
from app.embedding_batches import EmbeddingJob
from app.errors import InvalidRequest, ModelNotFound, NotFound, UpstreamError
from app.model_catalogue import CHAT, EMBEDDINGS, CatalogueEntry, ModelCatalogue
from app.protocol.chat import ChatCompletionRequest
from app.protocol.common import SAMPLING_FIELDS
from app.protocol.completions import CompletionRequest
from app.protocol.embeddings import EmbeddingRequest
from app.relay import Frames, StreamBody, answer_frames, choice_frames, prefixed
from app.settings import Settings
from app.streaming import ChunkEncoder, CompletionChunkEncoder, FrameEncoder
from app.upstream.client import UpstreamClient, UpstreamReply
from app.upstream.targets import Endpoint, Targets

T = TypeVar("T")
LOG_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request travels upstream as: the Cloudflare token, and the AI Gateway headers it asked for."""

    token: str
    gateway_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    body: Any  # an OpenAI object (a dict) or a StreamBody
    headers: dict[str, str]  # AI Gateway response headers, relayed to the client


@dataclass(frozen=True, slots=True)
class _Upstream:
    dialect: Dialect
    endpoint: Endpoint
    caller: Caller


class Proxy:
    def __init__(
        self,
        settings: Settings,
        upstream: UpstreamClient,
        targets: Targets,
        catalog: Catalog,
        models: ModelCatalogue,
        fetch_image: Fetch | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self.targets = targets
        self.catalog = catalog
        self.model_catalogue = models
        self.fetch_image = fetch_image

    # -- chat ---------------------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, caller: Caller) -> Reply:
        route = self.catalog.resolve(request.model)
        self._check_task(route, CHAT, "/v1/chat/completions")
        check_chat_request(request, route, self.settings.proxy_max_n)
        if has_remote_images(request):
            if self.fetch_image is None:
                raise InvalidRequest("Image URLs are not fetched by this proxy; send data: URLs.", param="messages")
            request = await inline_remote_images(request, self.fetch_image)
        max_tokens = self._max_tokens(request.max_completion_tokens or request.max_tokens, route)
        plan = output_plan(request, route, max_tokens)
        ctx = CompletionContext.new(route.requested, request.include_usage)
        up = _Upstream(REGISTRY[route.dialect], self.targets.chat(route.kind, route.model_id), caller)
        n = request.n or 1
        # Workers AI's JSON mode does not stream: the whole answer is fetched and replayed as a stream.
        upstream_stream = bool(request.stream) and not _json_mode(request)
        built = up.dialect.build_chat(request, route, max_tokens, stream=upstream_stream, model=up.endpoint.model)
        body = orjson.dumps(built)
        if not request.stream:
            answers = await _all([self._answer(up, body) for _ in range(n)])
            finals = [finalize(answer, plan) for answer, _ in answers]
            return Reply(chat_completion(ctx, finals), answers[0][1])
        encoders = [ChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i) for i in range(n)]
        return await self._stream(up, [body] * n, plan, encoders, upstream_stream, ctx.include_usage)

    # -- legacy completions ---------------------------------------------------------------------
    async def completions(self, request: CompletionRequest, caller: Caller) -> Reply:
        route = self.catalog.resolve(request.model)
        self._check_task(route, CHAT, "/v1/completions")
        prompts = check_completion_request(request, self.settings.proxy_max_n)
        max_tokens = self._max_tokens(request.max_tokens, route)
        plan = OutputPlan(max_tokens=max_tokens, think=None, stop=stop_sequences(request.stop))
        ctx = CompletionContext.new(route.requested, request.include_usage, prefix="cmpl-")
        up = _Upstream(REGISTRY[route.dialect], self.targets.chat(route.kind, route.model_id), caller)
        n = request.n or 1
        fields = {name: getattr(request, name) for name in SAMPLING_FIELDS}
        stream = bool(request.stream)
        jobs = [prompt for prompt in prompts for _ in range(n)]  # choices ordered by prompt, then by n
        model = up.endpoint.model
        bodies = [
            orjson.dumps(up.dialect.build_prompt(p, fields, route, max_tokens, stream=stream, model=model))
            for p in jobs
        ]
        echoes = [prompt if request.echo else "" for prompt in jobs]
        if not stream:
            answers = await _all([self._answer(up, body) for body in bodies])
            finals = [finalize(answer, plan) for answer, _ in answers]
            return Reply(text_completion(ctx, finals, echoes, len(prompts)), answers[0][1])
        encoders = [CompletionChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i) for i in range(len(jobs))]
        return await self._stream(
            up, bodies, plan, encoders, True, ctx.include_usage, echoes=echoes, prompts=len(prompts)
        )

    # -- embeddings ---------------------------------------------------------------------------
    async def embeddings(self, request: EmbeddingRequest, caller: Caller) -> Reply:
        route = self.catalog.resolve(request.model)
        self._check_task(route, EMBEDDINGS, "/v1/embeddings")
        job = EmbeddingJob.plan(request, route, self.catalog.embedding_model(route.model_id))
        dialect = REGISTRY[route.dialect]
        endpoint = self.targets.embeddings(route.kind, route.model_id)
        headers = self.targets.headers(
            caller.token, stream=False, gateway=endpoint.via_gateway, extra=caller.gateway_headers
        )
        relayed: dict[str, str] = {}

        async def embed(texts: list[str]) -> list[list[float]]:
            body = orjson.dumps(dialect.build_embeddings(texts, route, endpoint.model))
            reply = await self.upstream.request(endpoint.url, body, headers)
            relayed.update(_relayed(endpoint, reply.headers))
            return dialect.parse_embeddings(_json_reply(reply, dialect), len(texts))

        return Reply(await job.run(embed), relayed)

    # -- models -------------------------------------------------------------------------------
    async def models(self) -> tuple[list[dict[str, Any]], str]:
        """The catalogue in OpenAI shape, aliases included, and where it came from."""
        entries = {entry.id: entry for entry in await self.model_catalogue.entries()}
        models = [entry.openai() for entry in entries.values()]
        for alias, model_id in self.settings.proxy_model_aliases.items():
            target = entries.get(model_id) or CatalogueEntry(id=model_id, task="unknown")
            models.append(replace(target, id=alias).openai(alias_for=model_id))
        return models, self.model_catalogue.source

    async def model(self, name: str) -> tuple[dict[str, Any], str]:
        models, source = await self.models()
        for model in models:
            if model["id"] == name:
                return model, source
        raise ModelNotFound(f"The model {name!r} does not exist.", param="model")

    def _check_task(self, route: Route, wanted: str, endpoint: str) -> None:
        task = self.model_catalogue.task_of(route.model_id)
        if task is not None and task != wanted:
            raise InvalidRequest(
                f"{route.requested} is a {task} model; {endpoint} needs a {wanted} model.",
                param="model",
                code="model_not_supported",
            )

    # -- AI Gateway logs ------------------------------------------------------------------------
    async def gateway_log(self, log_id: str, caller: Caller, feedback: dict[str, Any] | None = None) -> Any:
        """One log entry (GET), or feedback on it (PATCH), from the AI Gateway logs API."""
        if not self.targets.has_gateway:
            raise NotFound(
                "No AI Gateway is configured on this proxy (CLOUDFLARE_GATEWAY_ID).", code="gateway_not_configured"
            )
        if not LOG_ID.fullmatch(log_id):
            raise InvalidRequest(f"Invalid gateway log id {log_id!r}.", param="log_id")
        url = self.targets.gateway_logs_url(log_id)
        headers = self.targets.headers(caller.token, stream=False, gateway=False)
        method, body = ("GET", b"") if feedback is None else ("PATCH", orjson.dumps(feedback))
        reply = await self.upstream.request(url, body, headers, method)
        return unwrap_result(_json_reply(reply, REGISTRY["native"]))

    # -- shared -------------------------------------------------------------------------------
    def _max_tokens(self, asked: int | None, route: Route) -> int:
        return asked or self.settings.max_tokens_for(route.requested, route.model_id)

    def _headers(self, up: _Upstream, *, stream: bool) -> httpx.Headers:
        return self.targets.headers(
            up.caller.token, stream=stream, gateway=up.endpoint.via_gateway, extra=up.caller.gateway_headers
        )

    async def _answer(self, up: _Upstream, body: bytes) -> tuple[UpstreamAnswer, dict[str, str]]:
        reply = await self.upstream.request(up.endpoint.url, body, self._headers(up, stream=False))
        answer = up.dialect.parse_chat(_json_reply(reply, up.dialect))
        return answer, _relayed(up.endpoint, reply.headers)

    async def _stream(
        self,
        up: _Upstream,
        bodies: Sequence[bytes],
        plan: OutputPlan,
        encoders: Sequence[FrameEncoder],
        upstream_stream: bool,
        include_usage: bool,
        *,
        echoes: Sequence[str] | None = None,
        prompts: int = 1,
    ) -> Reply:
        sinks = [ChoiceStream(encoder, plan) for encoder in encoders]
        opened = await _settle(
            [self._open_choice(up, b, sink, upstream_stream) for b, sink in zip(bodies, sinks, strict=True)]
        )
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
        headers = next((item[2] for item in opened if isinstance(item, tuple)), {})
        usage_encoder = encoders[0] if include_usage else None
        return Reply(StreamBody(choices, sinks, usage_encoder, responses, prompts), headers)

    async def _open_choice(
        self, up: _Upstream, body: bytes, sink: ChoiceStream, upstream_stream: bool
    ) -> tuple[Frames, httpx.Response | None, dict[str, str]]:
        """Fails as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        if not upstream_stream:
            answer, headers = await self._answer(up, body)
            return answer_frames(answer, sink), None, headers
        response = await self.upstream.open(up.endpoint.url, body, self._headers(up, stream=True))
        headers = _relayed(up.endpoint, response.headers)
        if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
            # An error, or a model that answered a stream request with one JSON body: replay it.
            answer = up.dialect.parse_chat(_json_reply(await self.upstream.read(response), up.dialect))
            return answer_frames(answer, sink), None, headers
        return choice_frames(response, up.dialect.chat_stream(sink), sink), response, headers


async def catalogue_page(
    upstream: UpstreamClient, targets: Targets, token: str, page: int
) -> tuple[list[Any], dict[str, Any]]:
    """One page of the account's `/ai/models/search`."""
    url = f"{targets.catalogue_url()}?page={page}&per_page={ModelCatalogue.PER_PAGE}"
    headers = targets.headers(token, stream=False, gateway=False)
    payload = _json_reply(await upstream.request(url, b"", headers, "GET"), REGISTRY["native"])
    result = payload.get("result") if isinstance(payload, dict) else None
    info = payload.get("result_info") if isinstance(payload, dict) else None
    return (result if isinstance(result, list) else []), (info if isinstance(info, dict) else {})


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


def _relayed(endpoint: Endpoint, headers: httpx.Headers) -> dict[str, str]:
    """The AI Gateway headers of an upstream reply (only gateway routes have any)."""
    return gateway.response_headers(headers.items()) if endpoint.via_gateway else {}


def _json_mode(request: ChatCompletionRequest) -> bool:
    return request.response_format is not None and request.response_format.type != "text"


def _json_reply(reply: UpstreamReply, dialect: Dialect) -> Any:
    if reply.status != 200:
        raise dialect.error(reply.status, reply.body, dict(reply.headers))
    try:
        return orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None
