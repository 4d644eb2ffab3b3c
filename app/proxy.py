"""The one place the layers meet: route -> checks -> dialect.build -> upstream -> dialect.parse / relay."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson

from app.calls import Call, Caller, Calls, OpenedChoice, json_reply
from app.catalog import Catalog, Route
from app.chat.affinity import HEADER as AFFINITY_HEADER
from app.chat.affinity import prompt_session_id, session_id
from app.chat.answer import chat_completion, finalize, text_completion
from app.chat.choice_stream import ChoiceStream
from app.chat.context import CompletionContext
from app.chat.functions import FunctionCallEncoder, as_tools, legacy_message, uses_functions
from app.chat.images import Fetch, has_remote_images, inline_remote_images
from app.chat.plan import OutputPlan
from app.chat.request import check_chat_request, check_completion_request, output_plan, stop_sequences
from app.dialects import REGISTRY
from app.dialects.common import unwrap_result
from app.embedding_batches import EmbeddingJob, InputLimits
from app.errors import InvalidRequest, ModelNotFound, NotFound, ProxyError
from app.gather import gather_all, settle_all
from app.model_catalogue import CHAT, EMBEDDINGS, CatalogueEntry, ModelCatalogue
from app.model_guide import DEPRECATION_HEADER, deprecation, unknown_model, with_catalogue
from app.protocol.chat import ChatCompletionRequest
from app.protocol.common import SAMPLING_FIELDS
from app.protocol.completions import CompletionRequest
from app.protocol.embeddings import EmbeddingRequest
from app.relay import StreamBody, prefixed
from app.settings import Settings
from app.streaming import ChunkEncoder, CompletionChunkEncoder, FrameEncoder
from app.upstream.targets import Endpoint

__all__ = ["Caller", "Proxy", "Reply"]
log = logging.getLogger("workers_ai_proxy")

T = TypeVar("T")
LOG_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
SERVED_MODEL_HEADER = "x-served-model"  # which model answered (it differs from the asked one after a fallback)


@dataclass(frozen=True, slots=True)
class Reply:
    body: Any  # an OpenAI object (a dict) or a StreamBody
    headers: dict[str, str]  # AI Gateway response headers and the served model, relayed to the client


class Proxy:
    def __init__(
        self,
        settings: Settings,
        calls: Calls,
        catalog: Catalog,
        models: ModelCatalogue,
        fetch_image: Fetch | None = None,
    ) -> None:
        self.settings = settings
        self.calls = calls
        self.targets = calls.targets
        self.catalog = catalog
        self.model_catalogue = models
        self.fetch_image = fetch_image
        self._warned: set[str] = set()  # models whose deprecation was logged

    # -- chat ---------------------------------------------------------------------------------
    async def chat(self, request: ChatCompletionRequest, caller: Caller) -> Reply:
        primary = self._route(request.model)
        self._check_task(primary, CHAT, "/v1/chat/completions")
        legacy = uses_functions(request)  # deprecated `functions`: carried as tools, answered in their form
        if legacy:
            request = as_tools(request)
        limits = self.settings
        check_chat_request(request, primary, limits.proxy_max_n, limits.proxy_max_images)
        if has_remote_images(request):
            if self.fetch_image is None:
                raise InvalidRequest("Image URLs are not fetched by this proxy; send data: URLs.", param="messages")
            request = await inline_remote_images(
                request, self.fetch_image, limits.proxy_image_max_total_bytes, limits.proxy_image_max_bytes
            )

        def can_serve(route: Route) -> None:  # raises for a fallback that cannot take the same request
            self._check_task(route, CHAT, "/v1/chat/completions")
            check_chat_request(request, route, limits.proxy_max_n, limits.proxy_max_images)

        return await self._with_fallbacks(
            primary, can_serve, lambda route, deadline: self._chat(request, route, caller, deadline, legacy)
        )

    async def _chat(
        self, request: ChatCompletionRequest, route: Route, caller: Caller, deadline: float, legacy: bool
    ) -> Reply:
        max_tokens = self._max_tokens(request.max_completion_tokens or request.max_tokens, route)
        plan = output_plan(request, route, max_tokens)
        ctx = CompletionContext.new(route.requested, request.include_usage)
        key = (request.model_extra or {}).get("prompt_cache_key")
        session = session_id(key, caller.tenant, request.user, request.messages) if self._affinity(route) else None
        call = self._call(route, self.targets.chat(route.kind, route.model_id), caller, deadline, session)
        n = request.n or 1
        # Workers AI's JSON mode does not stream: the whole answer is fetched and replayed as a stream.
        upstream_stream = bool(request.stream) and not _json_mode(request)
        body = _encoded(
            lambda: self._options(
                call,
                call.dialect.build_chat(request, route, max_tokens, stream=upstream_stream, model=call.endpoint.model),
            )
        )
        if not request.stream:
            answers = await gather_all([self.calls.answer(call, body) for _ in range(n)])
            finals = [finalize(answer, plan) for answer, _ in answers]
            return Reply(chat_completion(ctx, finals, legacy_message if legacy else None), answers[0][1])
        chunks = [
            ChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i, include_usage=ctx.include_usage)
            for i in range(n)
        ]
        encoders: list[FrameEncoder] = [FunctionCallEncoder(c) for c in chunks] if legacy else list(chunks)
        return await self._stream(call, [body] * n, plan, encoders, upstream_stream, ctx.include_usage)

    # -- legacy completions ---------------------------------------------------------------------
    async def completions(self, request: CompletionRequest, caller: Caller) -> Reply:
        primary = self._route(request.model)
        self._check_task(primary, CHAT, "/v1/completions")
        prompts = check_completion_request(request, self.settings.proxy_max_n)
        return await self._with_fallbacks(
            primary,
            lambda route: self._check_task(route, CHAT, "/v1/completions"),
            lambda route, deadline: self._complete(request, prompts, route, caller, deadline),
        )

    async def _complete(
        self, request: CompletionRequest, prompts: list[str], route: Route, caller: Caller, deadline: float
    ) -> Reply:
        max_tokens = self._max_tokens(request.max_tokens, route)
        plan = OutputPlan(max_tokens=max_tokens, think=None, stop=stop_sequences(request.stop))
        ctx = CompletionContext.new(route.requested, request.include_usage, prefix="cmpl-")
        key = (request.model_extra or {}).get("prompt_cache_key")
        session = prompt_session_id(key, caller.tenant, request.user, prompts[0]) if self._affinity(route) else None
        call = self._call(route, self.targets.chat(route.kind, route.model_id), caller, deadline, session)
        n = request.n or 1
        fields = {name: getattr(request, name) for name in SAMPLING_FIELDS}
        stream = bool(request.stream)
        jobs = [prompt for prompt in prompts for _ in range(n)]  # choices ordered by prompt, then by n
        model = call.endpoint.model
        bodies = [
            orjson.dumps(
                self._options(call, call.dialect.build_prompt(p, fields, route, max_tokens, stream=stream, model=model))
            )
            for p in jobs
        ]
        echoes = [prompt if request.echo else "" for prompt in jobs]
        if not stream:
            answers = await gather_all([self.calls.answer(call, body) for body in bodies])
            finals = [finalize(answer, plan) for answer, _ in answers]
            return Reply(text_completion(ctx, finals, echoes, len(prompts)), answers[0][1])
        encoders = [
            CompletionChunkEncoder(ctx.completion_id, ctx.created, ctx.model, i, include_usage=ctx.include_usage)
            for i in range(len(jobs))
        ]
        return await self._stream(
            call, bodies, plan, encoders, True, ctx.include_usage, echoes=echoes, prompts=len(prompts)
        )

    # -- embeddings ---------------------------------------------------------------------------
    async def embeddings(self, request: EmbeddingRequest, caller: Caller) -> Reply:
        """Retried, never falling back: another model's vectors would not compare with this one's."""
        route = self._route(request.model)
        self._check_task(route, EMBEDDINGS, "/v1/embeddings")
        limits = InputLimits(self.settings.proxy_embeddings_max_inputs, self.settings.proxy_embeddings_max_chars)
        job = EmbeddingJob.plan(request, route, self.catalog.embedding_model(route.model_id), limits)
        endpoint = self.targets.embeddings(route.kind, route.model_id)
        call = self._call(route, endpoint, caller, self._deadline())
        relayed: dict[str, str] = {}

        async def embed(texts: list[str]) -> list[list[float]]:
            body = orjson.dumps(call.dialect.build_embeddings(texts, route, endpoint.model))
            payload, headers = await self.calls.json(call, body)
            relayed.update(headers)
            return call.dialect.parse_embeddings(payload, len(texts))

        try:
            vectors = await job.run(embed)
        except ModelNotFound as gone:
            raise self._unknown(route, gone) from None
        return Reply(vectors, {**relayed, **self._notices(route)})

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
        reply = await self.calls.upstream.request(url, body, headers, method)
        return unwrap_result(json_reply(reply, REGISTRY["native"]))

    # -- shared -------------------------------------------------------------------------------
    async def _with_fallbacks(
        self, primary: Route, can_serve: Callable[[Route], None], serve: Callable[[Route, float], Awaitable[Reply]]
    ) -> Reply:
        """The primary route, then each fallback in turn after a failure that another model may not have."""
        deadline = self._deadline()
        failure: ProxyError | None = None
        for route in self._chain(primary, can_serve):
            try:
                reply = await serve(route, deadline)
            except ModelNotFound as gone:  # Workers AI does not serve it (any more): say what to use
                raise self._unknown(route, gone) from None
            except ProxyError as error:
                if not error.retryable or asyncio.get_running_loop().time() >= deadline:
                    raise
                failure = error
                continue
            reply.headers[SERVED_MODEL_HEADER] = route.model_id
            reply.headers.update(self._notices(route))
            return reply
        assert failure is not None  # the chain always holds the primary route
        raise failure

    def _chain(self, primary: Route, can_serve: Callable[[Route], None]) -> Iterator[Route]:
        yield primary
        for name in self._fallbacks_of(primary):
            try:
                route = self._route(name)
                can_serve(route)
            except ProxyError:
                continue  # a fallback that cannot serve this request is skipped, not an error of the client's
            yield route

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.settings.proxy_total_timeout

    def _call(
        self, route: Route, endpoint: Endpoint, caller: Caller, deadline: float, session: str | None = None
    ) -> Call:
        extra = ((AFFINITY_HEADER, session),) if session is not None else ()
        fails_over = route.kind != "compat" and bool(self._fallbacks_of(route))  # rejectIfBusy is sent, too
        return Call(route, REGISTRY[route.dialect], endpoint, caller, deadline, extra, fails_over)

    def _affinity(self, route: Route) -> bool:
        """x-session-affinity goes to Workers AI's native route (`/ai/run`), the one documented to take it."""
        return self.settings.proxy_session_affinity and route.dialect == "native"

    def _rejects_if_busy(self, route: Route) -> bool:
        """options.rejectIfBusy: for a model with fallbacks (a busy model should hand over at once, not queue
        at Cloudflare), or for every model with PROXY_REJECT_IF_BUSY. The compat route is another provider's."""
        return route.kind != "compat" and (self.settings.proxy_reject_if_busy or bool(self._fallbacks_of(route)))

    def _options(self, call: Call, body: dict[str, Any]) -> dict[str, Any]:
        if self._rejects_if_busy(call.route):
            body["options"] = {"rejectIfBusy": True}  # top level of the body, not the model's input (9.6)
        return body

    def _fallbacks_of(self, route: Route) -> list[str]:
        fallbacks = self.settings.proxy_fallbacks
        return fallbacks.get(route.requested) or fallbacks.get(route.model_id) or []

    def _max_tokens(self, asked: int | None, route: Route) -> int:
        if asked:
            return asked
        default = self.settings.max_tokens_for(route.requested, route.model_id)
        entry = self.model_catalogue.entry(route.model_id)
        window = entry.context_window if entry is not None else None
        return min(default, window) if window else default  # never more than the model can hold

    def _route(self, name: str) -> Route:
        """A model name -> its route, with what the account's catalogue says the model can do."""
        try:
            route = self.catalog.resolve(name)
        except ModelNotFound:
            candidates = [*self.model_catalogue.known_ids(), *self.settings.proxy_model_aliases]
            raise unknown_model(name, name, candidates) from None
        return with_catalogue(route, self.model_catalogue.entry(route.model_id))

    def _unknown(self, route: Route, gone: ModelNotFound) -> ModelNotFound:
        candidates = [*self.model_catalogue.known_ids(), *self.settings.proxy_model_aliases]
        return unknown_model(route.requested, route.model_id, candidates, detail=gone.message)

    def _notices(self, route: Route) -> dict[str, str]:
        """`x-model-deprecation` for a model with a date to stop; logged once per model."""
        date = deprecation(route.model_id, self.model_catalogue.entry(route.model_id))
        if date is None:
            return {}
        if route.model_id not in self._warned:
            self._warned.add(route.model_id)
            log.warning("model %s is deprecated by Workers AI (shutdown date %s)", route.model_id, date)
        return {DEPRECATION_HEADER: date}

    def _check_task(self, route: Route, wanted: str, endpoint: str) -> None:
        task = self.model_catalogue.task_of(route.model_id)
        if task is not None and task != wanted:
            raise InvalidRequest(
                f"{route.requested} is a {task} model; {endpoint} needs a {wanted} model.",
                param="model",
                code="model_not_supported",
            )

    async def _stream(
        self,
        call: Call,
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
        opened = await settle_all(
            [self.calls.open_choice(call, b, sink, upstream_stream) for b, sink in zip(bodies, sinks, strict=True)]
        )
        choices = [item for item in opened if isinstance(item, OpenedChoice)]
        failure = next((item for item in opened if isinstance(item, BaseException)), None)
        if failure is not None:
            for choice in choices:
                if choice.guard is not None:
                    choice.guard.close()
                if choice.response is not None:
                    await choice.response.aclose()
            raise failure
        frames = [choice.frames for choice in choices]
        if echoes is not None:
            frames = [
                prefixed(encoder, echo, piece) if echo else piece
                for encoder, echo, piece in zip(encoders, echoes, frames, strict=True)
            ]
        responses = [choice.response for choice in choices if choice.response is not None]
        guards = [choice.guard for choice in choices if choice.guard is not None]
        usage_encoder = encoders[0] if include_usage else None
        body = StreamBody(frames, sinks, usage_encoder, responses, prompts, guards)
        return Reply(body, dict(choices[0].headers))


def _encoded(build: Callable[[], Any]) -> bytes:
    """The upstream body. orjson parses 1024 levels of nesting but writes only 255: a schema or tool
    nested deeper than that is the client's mistake, not ours."""
    try:
        return orjson.dumps(build())
    except (orjson.JSONEncodeError, RecursionError):
        raise InvalidRequest(
            "The request nests JSON objects or arrays too deeply (tools, schemas: at most 250 levels).",
            code="invalid_value",
        ) from None


def _json_mode(request: ChatCompletionRequest) -> bool:
    return request.response_format is not None and request.response_format.type != "text"
