"""The one request pipeline every endpoint runs through:

    route -> admission hooks -> [prepare] -> primary route, then fallbacks -> resilient upstream call
          -> reply (whole, or a stream) -> settlement hooks -> observers

The serving modules say what a resource means (validate, build the upstream bodies, shape the reply); this
says how any request is carried out, and tells the observers what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.chat.affinity import HEADER as AFFINITY_HEADER
from app.dialects import DIALECTS, Dialect
from app.embeddings.batches import CHARS_PER_TOKEN
from app.errors import ClientClosedRequest, ModelNotFound, ProxyError, QuotaExhausted
from app.exchange import Exchange, Outcome
from app.models.catalogue import ModelCatalogue
from app.models.guide import DEPRECATION_HEADER, deprecation
from app.observe.observer import Observer
from app.pipeline.stream import StreamBody
from app.pipeline.upstream_call import ResilientClient, UpstreamCall
from app.policies.hooks import Admission, Settlement
from app.protocol.common import Usage
from app.routing.resolver import Router
from app.routing.route import Route
from app.settings import Settings
from app.upstream.targets import Targets

log = logging.getLogger("workers_ai_proxy")
SERVED_MODEL_HEADER = "x-served-model"  # which model answered (it differs from the asked one after a fallback)
BUDGET_FALLBACK_HEADER = "x-proxy-budget-fallback"  # the model a budget could not afford (PROXY_BUDGET_FALLBACK)

Serve = Callable[[Route, float], Awaitable["Reply"]]
CanServe = Callable[[Route], None]
Resource = Literal["chat", "embeddings", "media"]  # media: images, audio, rerank, moderation (Workers AI run)


@dataclass(frozen=True, slots=True)
class Binary:
    """A reply that is not JSON: an image file, audio, a transcript as text, SRT or WebVTT."""

    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class BinaryStream:
    """A reply relayed as it arrives: speech."""

    chunks: AsyncIterator[bytes]
    content_type: str


@dataclass(slots=True)
class Reply:
    body: Any  # an OpenAI object (a dict), a StreamBody, or Binary
    headers: dict[str, str] = field(default_factory=dict)  # AI Gateway headers and notices, relayed
    usage: Usage | None = None  # of a whole reply (a stream reports its own when it ends)


@dataclass(frozen=True, slots=True)
class Hooks:
    admission: Sequence[Admission] = ()
    settlement: Sequence[Settlement] = ()


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        router: Router,
        client: ResilientClient,
        targets: Targets,
        catalogue: ModelCatalogue,
        observer: Observer,
        hooks: Hooks,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.router = router
        self.client = client
        self.targets = targets
        self.catalogue = catalogue
        self.observer = observer
        self.hooks = hooks
        self.clock = clock
        self._warned: set[str] = set()  # models whose deprecation was logged

    # -- the lifecycle of an exchange ---------------------------------------------------------------
    def begin(self, endpoint: str, request_id: str) -> Exchange:
        exchange = Exchange(request_id, endpoint, self.clock())
        self.observer.request_started(exchange)
        return exchange

    def finish(self, exchange: Exchange) -> None:
        """Tell the observers the exchange ended (once); the HTTP layer calls it for whole replies and
        errors, the stream's end for streams."""
        if exchange.finished:
            return
        exchange.finished = True
        if exchange.ended is None:
            exchange.ended = self.clock()
        self.observer.request_finished(exchange)

    def route(self, exchange: Exchange, name: str, task: str | None = None, endpoint: str = "") -> Route:
        exchange.model_asked = name
        route = self.router.route(name, task, endpoint)
        exchange.route = route
        return route

    async def run(
        self,
        exchange: Exchange,
        primary: Route,
        serve: Serve,
        *,
        can_serve: CanServe | None = None,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> Reply:
        """Admit, prepare (e.g. fetch remote images), serve on the primary route and then on each fallback
        that `can_serve` accepts (no fallbacks without it), and settle."""
        primary = await self._admit(exchange, primary, can_serve)
        try:
            if prepare is not None:
                await prepare()
            reply = await self._with_fallbacks(exchange, primary, serve, can_serve)
        except BaseException as error:
            exchange.ended = self.clock()
            exchange.outcome = "disconnected" if _client_left(error) else "failed"
            await self.settle(exchange)
            raise
        if isinstance(reply.body, StreamBody):
            exchange.stream = exchange.relayed = True
            self.observer.stream_opened(exchange)
            reply.body.on_first = lambda: _first_token(exchange, self.clock)
            reply.body.on_end = lambda outcome, usage, error: self._stream_ended(exchange, outcome, usage, error)
        else:
            exchange.usage = reply.usage
            exchange.ended = self.clock()
            await self.settle(exchange)
        return reply

    async def run_local(self, exchange: Exchange, work: Callable[[], Awaitable[Any]]) -> Any:
        """An endpoint with no model route (the model list, gateway logs): admitted and settled all the same."""
        for hook in self.hooks.admission:
            await hook.admit(exchange)
        try:
            return await work()
        except BaseException:
            exchange.outcome = "failed"
            raise
        finally:
            exchange.ended = self.clock()
            await self.settle(exchange)

    # -- what serving modules ask of a route ---------------------------------------------------------
    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.settings.proxy_total_timeout

    def dialect(self, route: Route) -> Dialect:
        return DIALECTS[route.dialect]

    def call(
        self, exchange: Exchange, route: Route, resource: Resource, deadline: float, session: str | None = None
    ) -> UpstreamCall:
        target = self.targets[route.target]
        if resource == "media":
            destination = self.targets.run(route.model_id)
        else:
            destination = target.chat(route.model_id) if resource == "chat" else target.embeddings(route.model_id)
        extra = ((AFFINITY_HEADER, session),) if session is not None else ()
        fails_over = target.takes_workers_ai_options and bool(self.router.fallbacks(route))  # rejectIfBusy sent
        return UpstreamCall(route, destination, exchange, deadline, extra, fails_over)

    def with_options(self, route: Route, body: dict[str, Any]) -> dict[str, Any]:
        """options.rejectIfBusy: for a model with fallbacks (a busy model should hand over at once, not queue
        at Cloudflare), or for every model with PROXY_REJECT_IF_BUSY; only where the target takes it."""
        target = self.targets[route.target]
        if target.takes_workers_ai_options and (
            self.settings.proxy_reject_if_busy or bool(self.router.fallbacks(route))
        ):
            body["options"] = {"rejectIfBusy": True}  # top level of the body, not the model's input (9.6)
        return body

    def affinity(self, route: Route) -> bool:
        """x-session-affinity goes where it is documented to be taken (Workers AI's `/ai/run`)."""
        return self.settings.proxy_session_affinity and self.targets[route.target].takes_session_affinity

    def estimate_tokens(self, exchange: Exchange, completion_tokens: int) -> None:
        """The most tokens the request can use, which rate limits reserve: its prompt, estimated from the body's
        size (about four bytes a token), and the most it may generate."""
        exchange.token_estimate = exchange.request_bytes // CHARS_PER_TOKEN + completion_tokens

    def max_tokens(self, asked: int | None, route: Route) -> int:
        if asked:
            return asked
        default = self.settings.max_tokens_for(route.requested, route.model_id)
        entry = self.catalogue.entry(route.model_id)
        window = entry.context_window if entry is not None else None
        return min(default, window) if window else default  # never more than the model can hold

    def notices(self, route: Route) -> dict[str, str]:
        """`x-model-deprecation` for a model with a date to stop; logged once per model."""
        date = deprecation(route.model_id, self.catalogue.entry(route.model_id))
        if date is None:
            return {}
        if route.model_id not in self._warned:
            self._warned.add(route.model_id)
            log.warning("model %s is deprecated by Workers AI (shutdown date %s)", route.model_id, date)
        return {DEPRECATION_HEADER: date}

    # -- internals -----------------------------------------------------------------------------------
    async def _admit(self, exchange: Exchange, primary: Route, can_serve: CanServe | None) -> Route:
        """The admission hooks, on the primary route; over a budget with PROXY_BUDGET_FALLBACK, on each model of
        its fallback chain in turn (that can serve the request): the first one whose worst case fits is served."""
        try:
            await self.admit_on(exchange, primary)
            return primary
        except QuotaExhausted as refusal:
            if not self.settings.proxy_budget_fallback or can_serve is None:
                raise
            for route in self._chain(primary, can_serve):
                if route is primary:
                    continue
                try:
                    await self.admit_on(exchange, route)
                except ProxyError:
                    continue
                self.observer.fallback_taken(exchange, primary.model_id, route.model_id, refusal.code)
                exchange.fallbacks.append(route.model_id)
                exchange.reply_headers[BUDGET_FALLBACK_HEADER] = primary.model_id
                return route
            exchange.route = primary
            raise

    async def admit_on(self, exchange: Exchange, route: Route) -> None:
        """The admission hooks on one route; a refusal (ProxyError) has taken nothing."""
        exchange.route = route
        for hook in self.hooks.admission:
            await hook.admit(exchange)

    async def _with_fallbacks(
        self, exchange: Exchange, primary: Route, serve: Serve, can_serve: CanServe | None
    ) -> Reply:
        """The primary route, then each fallback in turn after a failure that another model may not have."""
        deadline = self.deadline()
        failure: ProxyError | None = None
        previous = primary
        for route in self._chain(primary, can_serve):
            if failure is not None:
                self.observer.fallback_taken(exchange, previous.model_id, route.model_id, failure.code)
                exchange.fallbacks.append(route.model_id)
            exchange.route = previous = route
            try:
                reply = await serve(route, deadline)
            except ModelNotFound as gone:  # Workers AI does not serve it (any more): say what to use
                raise self.router.unknown(route, gone) from None
            except ProxyError as error:
                if can_serve is None or not error.retryable or asyncio.get_running_loop().time() >= deadline:
                    raise
                failure = error
                continue
            reply.headers[SERVED_MODEL_HEADER] = route.model_id
            reply.headers.update(self.notices(route))
            return reply
        assert failure is not None  # the chain always holds the primary route
        raise failure

    def _chain(self, primary: Route, can_serve: CanServe | None) -> Iterator[Route]:
        yield primary
        if can_serve is None:
            return
        for name in self.router.fallbacks(primary):
            try:
                route = self.router.route(name)
                can_serve(route)
            except ProxyError:
                continue  # a fallback that cannot serve this request is skipped, not an error of the client's
            yield route

    async def _stream_ended(
        self, exchange: Exchange, outcome: Outcome, usage: Usage | None, error: ProxyError | None
    ) -> None:
        exchange.ended = self.clock()
        exchange.outcome = outcome
        exchange.usage = usage
        if error is not None:
            exchange.error_code = error.code
        await self.settle(exchange)
        self.finish(exchange)

    async def settle(self, exchange: Exchange) -> None:
        """The settlement hooks, once per exchange."""
        if exchange.settled:
            return
        exchange.settled = True
        for hook in self.hooks.settlement:
            try:
                await hook.settle(exchange)
            except Exception:
                log.exception("a settlement hook failed")


def _first_token(exchange: Exchange, clock: Callable[[], float]) -> None:
    exchange.first_token = clock()


def _client_left(error: BaseException) -> bool:
    return isinstance(error, ClientClosedRequest | asyncio.CancelledError)
