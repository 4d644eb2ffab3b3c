"""POST /v1/chat/completions: checks, the output plan, n choices, whole replies and streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from app.chat.affinity import session_id
from app.chat.answer import FinalChoice, chat_completion, finalize, total_usage_of
from app.chat.functions import FunctionCallEncoder, as_tools, legacy_message, uses_functions
from app.chat.ids import CompletionIds
from app.chat.images import has_remote_images
from app.chat.request import check_chat_request, output_plan
from app.dialects import supported
from app.embeddings.batches import CHARS_PER_TOKEN
from app.errors import InvalidRequest
from app.exchange import Exchange
from app.frames.openai import ChunkEncoder, FrameEncoder, OpenAIEnding, StreamEnding
from app.models.catalogue import CHAT
from app.pipeline.choices import Choice, open_stream
from app.pipeline.core import Pipeline, Reply
from app.pipeline.gather import gather_all
from app.pipeline.images import Fetch, inline_remote_images
from app.pipeline.replay import Keep, StoringEnding, Transcript, replayed, through_cache
from app.policies.cache import ReplyCache
from app.protocol.chat import ChatCompletionRequest
from app.routing.route import Route

PATH = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class ChatOutput:
    """How a chat answer leaves the proxy, whole or as a stream of one protocol's frames: Chat Completions by
    default; the Messages and Responses bridges bring their own."""

    id_prefix: str
    whole: Callable[[CompletionIds, list[FinalChoice]], dict[str, Any]]
    encoder: Callable[[CompletionIds, int], FrameEncoder]  # one per choice
    ending: Callable[[FrameEncoder, CompletionIds], StreamEnding]  # given the first choice's encoder


def chat_completions_output(legacy: bool) -> ChatOutput:
    """OpenAI's chat completion and chunks; `legacy`: answered in the deprecated `function_call` form."""

    def whole(ids: CompletionIds, finals: list[FinalChoice]) -> dict[str, Any]:
        return dict(chat_completion(ids, finals, legacy_message if legacy else None))

    def encoder(ids: CompletionIds, index: int) -> FrameEncoder:
        chunks = ChunkEncoder(*ids.head, index, include_usage=ids.include_usage)
        return FunctionCallEncoder(chunks) if legacy else chunks

    def ending(first: FrameEncoder, ids: CompletionIds) -> StreamEnding:
        return OpenAIEnding(first if ids.include_usage else None)

    return ChatOutput("chatcmpl-", whole, encoder, ending)


CHAT_COMPLETIONS = chat_completions_output(legacy=False)
LEGACY_FUNCTIONS = chat_completions_output(legacy=True)


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_n: int
    max_images: int
    image_max_total_bytes: int
    image_max_bytes: int


class ChatCompletions:
    def __init__(
        self, pipeline: Pipeline, limits: ChatLimits, fetch_image: Fetch | None, cache: ReplyCache | None = None
    ) -> None:
        self.pipeline = pipeline
        self.limits = limits
        self.fetch_image = fetch_image
        self.cache = cache

    async def create(
        self, request: ChatCompletionRequest, exchange: Exchange, output: ChatOutput | None = None
    ) -> Reply:
        exchange.stream = bool(request.stream)
        primary = self.pipeline.route(exchange, request.model, CHAT, PATH)
        if uses_functions(request):  # deprecated `functions`: carried as tools, answered in their form
            request, output = as_tools(request), LEGACY_FUNCTIONS
        chosen = output or CHAT_COMPLETIONS
        limits = self.limits
        check_chat_request(request, primary, limits.max_n, limits.max_images)
        budget = self.pipeline.max_tokens(request.max_completion_tokens or request.max_tokens, primary)
        self.pipeline.estimate_tokens(exchange, budget * (request.n or 1))
        if has_remote_images(request) and self.fetch_image is None:
            raise InvalidRequest("Image URLs are not fetched by this proxy; send data: URLs.", param="messages")
        fetch = self.fetch_image

        async def prepare() -> None:
            nonlocal request
            if fetch is not None and has_remote_images(request):
                request = await inline_remote_images(
                    request, fetch, limits.image_max_total_bytes, limits.image_max_bytes
                )

        def can_serve(route: Route) -> None:  # raises for a fallback that cannot take the same request
            self.pipeline.router.check_task(route, CHAT, PATH)
            check_chat_request(request, route, limits.max_n, limits.max_images)

        slot = self.cache.chat_slot(request, primary, exchange) if self.cache is not None else None
        serve = through_cache(
            self.cache,
            slot,
            exchange,
            primary,
            lambda route, finals: self._replay(request, route, chosen, finals),
            lambda route, deadline, keep: self._serve(request, route, exchange, deadline, chosen, keep),
        )
        return await self.pipeline.run(exchange, primary, serve, can_serve=can_serve, prepare=prepare)

    def _replay(
        self, request: ChatCompletionRequest, route: Route, output: ChatOutput, finals: list[FinalChoice]
    ) -> Reply:
        """A cached answer, with fresh ids, whole or as a stream of the output's protocol."""
        ids = CompletionIds.new(route.requested, request.include_usage, prefix=output.id_prefix)
        usage = total_usage_of([final.usage for final in finals])
        if not request.stream:
            return Reply(output.whole(ids, finals), {}, usage)
        encoders = [output.encoder(ids, i) for i in range(len(finals))]
        return Reply(replayed(finals, encoders, output.ending(encoders[0], ids)))

    async def count_input_tokens(self, request: ChatCompletionRequest, exchange: Exchange, path: str) -> int:
        """What the bridges' token counting endpoints answer: an estimate (about four characters a token, as for
        embeddings) of the translated request's messages and tools; Workers AI has no tokenizer endpoint."""
        self.pipeline.route(exchange, request.model, CHAT, path)

        async def count() -> int:
            text = sum(len(m.model_dump_json()) for m in request.messages)
            text += sum(len(t.model_dump_json()) for t in request.tools or [])
            return max(1, -(-text // CHARS_PER_TOKEN))

        counted: int = await self.pipeline.run_local(exchange, count)
        return counted

    async def _serve(
        self,
        request: ChatCompletionRequest,
        route: Route,
        exchange: Exchange,
        deadline: float,
        output: ChatOutput,
        keep: Keep | None = None,
    ) -> Reply:
        """`keep`: where the answer goes once whole (the reply cache)."""
        pipeline = self.pipeline
        translator = supported(pipeline.dialect(route).chat, route, "chat completions")
        max_tokens = pipeline.max_tokens(request.max_completion_tokens or request.max_tokens, route)
        plan = output_plan(request, route, max_tokens)
        ids = CompletionIds.new(route.requested, request.include_usage, prefix=output.id_prefix)
        session = None
        if pipeline.affinity(route):
            key = (request.model_extra or {}).get("prompt_cache_key")
            tenant = exchange.identity.tenant if exchange.identity is not None else ""
            session = session_id(key, tenant, request.user, request.messages)
        call = pipeline.call(exchange, route, "chat", deadline, session)
        n = request.n or 1
        # Workers AI's JSON mode does not stream: the whole answer is fetched and replayed as a stream.
        upstream_stream = bool(request.stream) and not _json_mode(request)
        model = call.destination.model
        body = _encoded(
            lambda: pipeline.with_options(
                route, translator.build(request, route, max_tokens, stream=upstream_stream, model=model)
            )
        )
        client = pipeline.client
        if not request.stream:
            answers = await gather_all([client.answer(call, translator, body) for _ in range(n)])
            finals = [finalize(answer, plan) for answer, _ in answers]
            if keep is not None:
                await keep(finals)
            usage = total_usage_of([final.usage for final in finals])
            return Reply(output.whole(ids, finals), answers[0][1], usage)
        encoders = [output.encoder(ids, i) for i in range(n)]
        ending = output.ending(encoders[0], ids)
        writers: list[FrameEncoder] = list(encoders)
        if keep is not None and n == 1:  # the answer is taken down as it leaves, kept when the stream completes
            transcripts = [Transcript(encoder) for encoder in encoders]
            writers, ending = list(transcripts), StoringEnding(ending, transcripts, keep)
        stream, headers = await open_stream(
            client,
            call,
            translator,
            [Choice(body, writer) for writer in writers],
            plan,
            upstream_stream=upstream_stream,
            include_usage=ids.include_usage,
            ending=ending,
        )
        return Reply(stream, headers)


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
