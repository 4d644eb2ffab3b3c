"""POST /v1/completions (legacy text completions): prompts x n choices, `echo`, whole replies and streams."""

from __future__ import annotations

import orjson

from app.chat.affinity import prompt_session_id
from app.chat.answer import FinalChoice, finalize, text_completion
from app.chat.ids import CompletionIds
from app.chat.plan import OutputPlan
from app.chat.request import check_completion_request, stop_sequences
from app.dialects import supported
from app.exchange import Exchange
from app.frames.openai import CompletionChunkEncoder, OpenAIEnding, StreamEnding
from app.models.catalogue import CHAT
from app.pipeline.choices import Choice, open_stream
from app.pipeline.core import Pipeline, Reply
from app.pipeline.gather import gather_all
from app.pipeline.replay import Keep, StoringEnding, Transcript, replayed, through_cache
from app.policies.cache import ReplyCache
from app.protocol.common import SAMPLING_FIELDS, Usage
from app.protocol.completions import CompletionRequest
from app.routing.route import Route

PATH = "/v1/completions"


class Completions:
    def __init__(self, pipeline: Pipeline, max_n: int, cache: ReplyCache | None = None) -> None:
        self.pipeline = pipeline
        self.max_n = max_n
        self.cache = cache

    async def create(self, request: CompletionRequest, exchange: Exchange) -> Reply:
        exchange.stream = bool(request.stream)
        primary = self.pipeline.route(exchange, request.model, CHAT, PATH)
        prompts = check_completion_request(request, self.max_n)
        budget = self.pipeline.max_tokens(request.max_tokens, primary)
        self.pipeline.estimate_tokens(exchange, budget * (request.n or 1) * len(prompts))
        cache = self.cache
        slot = cache.answer_slot(request, primary, exchange) if cache is not None else None
        serve = through_cache(
            cache,
            slot,
            exchange,
            primary,
            lambda route, finals: self._replay(request, prompts, route, finals),
            lambda route, deadline, keep: self._serve(request, prompts, route, exchange, deadline, keep),
        )
        return await self.pipeline.run(
            exchange, primary, serve, can_serve=lambda route: self.pipeline.router.check_task(route, CHAT, PATH)
        )

    def _replay(self, request: CompletionRequest, prompts: list[str], route: Route, finals: list[FinalChoice]) -> Reply:
        """A cached answer with fresh ids, whole or streamed."""
        ids = CompletionIds.new(route.requested, request.include_usage, prefix="cmpl-")
        n = request.n or 1
        echoes = [prompt if request.echo else "" for prompt in prompts for _ in range(n)]
        if not request.stream:
            completion = text_completion(ids, finals, echoes, len(prompts))
            return Reply(completion, {}, completion.get("usage"))
        encoders = [CompletionChunkEncoder(*ids.head, i, include_usage=ids.include_usage) for i in range(len(finals))]
        ending = OpenAIEnding(encoders[0] if ids.include_usage else None)
        return Reply(replayed(finals, encoders, ending, len(prompts), echoes))

    async def _serve(
        self,
        request: CompletionRequest,
        prompts: list[str],
        route: Route,
        exchange: Exchange,
        deadline: float,
        keep: Keep | None = None,
    ) -> Reply:
        """`keep`: where the answer goes once whole (the reply cache)."""
        pipeline = self.pipeline
        translator = supported(pipeline.dialect(route).prompt, route, "text completions")
        max_tokens = pipeline.max_tokens(request.max_tokens, route)
        plan = OutputPlan(max_tokens=max_tokens, think=None, stop=stop_sequences(request.stop))
        ids = CompletionIds.new(route.requested, request.include_usage, prefix="cmpl-")
        session = None
        if pipeline.affinity(route):
            key = (request.model_extra or {}).get("prompt_cache_key")
            tenant = exchange.identity.tenant if exchange.identity is not None else ""
            session = prompt_session_id(key, tenant, request.user, prompts[0])
        call = pipeline.call(exchange, route, "chat", deadline, session)
        n = request.n or 1
        fields = {name: getattr(request, name) for name in SAMPLING_FIELDS}
        stream = bool(request.stream)
        jobs = [prompt for prompt in prompts for _ in range(n)]  # choices ordered by prompt, then by n
        model = call.destination.model
        bodies = [
            orjson.dumps(
                pipeline.with_options(route, translator.build(p, fields, route, max_tokens, stream=stream, model=model))
            )
            for p in jobs
        ]
        echoes = [prompt if request.echo else "" for prompt in jobs]
        client = pipeline.client
        if not stream:
            answers = await gather_all([client.answer(call, translator, body) for body in bodies])
            finals = [finalize(answer, plan) for answer, _ in answers]
            if keep is not None:
                await keep(finals)
            completion = text_completion(ids, finals, echoes, len(prompts))
            usage: Usage | None = completion.get("usage")
            return Reply(completion, answers[0][1], usage)
        choices = [
            Choice(
                body,
                CompletionChunkEncoder(*ids.head, i, include_usage=ids.include_usage),
                echo,
            )
            for i, (body, echo) in enumerate(zip(bodies, echoes, strict=True))
        ]
        ending: StreamEnding | None = None
        if keep is not None and len(choices) == 1 and not echoes[0]:  # one choice: taken down as it leaves
            first = choices[0].encoder
            transcript = Transcript(first)
            choices[0].encoder = transcript
            ending = StoringEnding(OpenAIEnding(first if ids.include_usage else None), [transcript], keep)
        body_stream, headers = await open_stream(
            client,
            call,
            translator,
            choices,
            plan,
            upstream_stream=True,
            include_usage=ids.include_usage,
            prompts=len(prompts),
            ending=ending,
        )
        return Reply(body_stream, headers)
