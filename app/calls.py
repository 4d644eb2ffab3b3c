"""One logical upstream call, made resilient: a concurrency slot, the route's circuit breaker, retries with
backoff on what may succeed on a second try, and timeouts for the first byte and the whole request.

Retries happen only before anything reached the client: a stream is retried until its upstream answered
with a stream, never after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson

from app import gateway
from app.catalog import Route
from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.dialects import Dialect
from app.errors import ClientClosedRequest, ProxyError, RequestTimeout, UpstreamError, UpstreamTimeout
from app.relay import Frames, StreamGuard, answer_frames, choice_frames
from app.resilience.breaker import Breakers
from app.resilience.limiter import ConcurrencyLimit, Slot
from app.resilience.retry import RetryPolicy
from app.upstream.client import UpstreamClient, UpstreamReply
from app.upstream.sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder
from app.upstream.targets import Endpoint, Targets

T = TypeVar("T")
BUSY = 3040  # Workers AI: "Capacity temporarily exceeded" (at once, with options.rejectIfBusy)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request travels upstream as: the Cloudflare token, and the AI Gateway headers it asked for."""

    token: str
    gateway_headers: dict[str, str] = field(default_factory=dict)
    tenant: str = ""  # whose breakers a failure counts against ("": the server's token; see ClientAuth.tenant)
    gone: Callable[[], Awaitable[bool]] | None = None  # True once the client has disconnected


@dataclass(frozen=True, slots=True)
class Call:
    route: Route
    dialect: Dialect
    endpoint: Endpoint
    caller: Caller
    deadline: float  # loop time by which the whole request, retries and stream included, must be done
    extra_headers: tuple[tuple[str, str], ...] = ()  # per request, e.g. x-session-affinity
    busy_fails_over: bool = False  # rejectIfBusy was sent for a fallback: a 3040 goes to it, not to retries


@dataclass(slots=True)
class OpenedChoice:
    frames: Frames
    headers: dict[str, str]  # AI Gateway response headers
    response: httpx.Response | None = None  # the upstream stream, when there is one to release
    guard: StreamGuard | None = None


class Calls:
    def __init__(
        self,
        upstream: UpstreamClient,
        targets: Targets,
        retry: RetryPolicy,
        breakers: Breakers,
        limit: ConcurrencyLimit,
        first_byte: float,
        idle: float,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.upstream = upstream
        self.targets = targets
        self.retry = retry
        self.breakers = breakers
        self.limit = limit
        self.first_byte = first_byte
        self.idle = idle
        self.max_event_bytes = max_event_bytes

    def headers(self, call: Call, *, stream: bool) -> httpx.Headers:
        return self.targets.headers(
            call.caller.token, stream=stream, gateway=call.endpoint.via_gateway, extra=call.caller.gateway_headers
        )

    async def json(self, call: Call, body: bytes) -> tuple[Any, dict[str, str]]:
        """A whole JSON reply, and the gateway headers it carried. The transport's read timeout bounds the
        wait for the first byte."""

        async def once(slot: Slot) -> tuple[Any, dict[str, str]]:
            try:
                reply = await self.upstream.request(
                    call.endpoint.url, body, self.headers(call, stream=False), extra_headers=call.extra_headers
                )
            finally:
                slot.release()
            return json_reply(reply, call.dialect), relayed(call.endpoint, reply.headers)

        return await self._resilient(call, once, until_first_byte=False)

    async def answer(self, call: Call, body: bytes) -> tuple[UpstreamAnswer, dict[str, str]]:
        payload, headers = await self.json(call, body)
        return call.dialect.parse_chat(payload), headers

    async def open_choice(self, call: Call, body: bytes, sink: ChoiceStream, upstream_stream: bool) -> OpenedChoice:
        """Fails as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        if not upstream_stream:
            answer, headers = await self.answer(call, body)
            return OpenedChoice(answer_frames(answer, sink), headers)

        async def once(slot: Slot) -> OpenedChoice:
            try:
                response = await self.upstream.open(
                    call.endpoint.url,
                    body,
                    self.headers(call, stream=True),
                    stream=True,
                    extra_headers=call.extra_headers,
                )
                headers = relayed(call.endpoint, response.headers)
                if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
                    # An error, or a model that answered a stream request with one JSON body: replay it.
                    answer = call.dialect.parse_chat(json_reply(await self.upstream.read(response), call.dialect))
                    slot.release()
                    return OpenedChoice(answer_frames(answer, sink), headers)
            except BaseException:
                slot.release()
                raise
            # from here the guard holds the slot and watches the stream
            guard = StreamGuard(response, self.first_byte, self.idle, call.deadline, slot)
            translator = call.dialect.chat_stream(sink)
            frames = choice_frames(response, translator, sink, guard, SSEDecoder(self.max_event_bytes))
            return OpenedChoice(frames, headers, response, guard)

        return await self._resilient(call, once, until_first_byte=True)

    async def _resilient(self, call: Call, once: Callable[[Slot], Awaitable[T]], *, until_first_byte: bool) -> T:
        """`once` owns the slot it is given. One timer per attempt: the total deadline, or for a stream
        opening, the first byte (the stream's own guard takes over from there)."""
        breaker = self.breakers.get(call.route.kind, call.route.model_id, call.caller.tenant)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            breaker.check()
            try:
                slot = await self.limit.acquire()
            except BaseException:
                breaker.abandon()  # overloaded, or the client left while queued: a probe must not stay taken
                raise
            if (slot.waited or attempt) and await _client_gone(call.caller):
                slot.release()
                breaker.abandon()
                raise ClientClosedRequest("The client disconnected before the upstream request was sent.")
            bound = min(loop.time() + self.first_byte, call.deadline) if until_first_byte else call.deadline
            try:
                async with asyncio.timeout_at(bound):
                    result = await once(slot)
            except TimeoutError:
                breaker.failure()
                if bound < call.deadline:
                    raise UpstreamTimeout("The Workers AI upstream did not start its answer in time.") from None
                raise UpstreamTimeout("The request exceeded PROXY_TOTAL_TIMEOUT.") from None
            except ProxyError as error:
                if _upstream_fault(error):
                    breaker.failure()
                else:
                    breaker.success()  # the upstream answered; what it said was about the request
                if call.busy_fails_over and error.upstream_code == BUSY:
                    raise  # the model said at once that it is busy: its fallback serves, not a retry
                wait = self.retry.delay(attempt, error)
                if not self.retry.should_retry(attempt, error, wait, call.deadline - loop.time()):
                    raise
                await asyncio.sleep(wait)
                attempt += 1
                continue
            except BaseException:
                breaker.abandon()  # cancelled, e.g. the client left: no verdict on the upstream
                raise
            breaker.success()
            return result


def _upstream_fault(error: ProxyError) -> bool:
    """Failures that say something about the upstream's health: 5xx, unusable replies, timeouts. Not the
    client's request (4xx), not one caller's credentials, rate limit or quota (401/403/429: another caller's
    token would do), not our own limits (503s of the proxy)."""
    return isinstance(error, UpstreamError | RequestTimeout)


async def _client_gone(caller: Caller) -> bool:
    """Checked after a wait (a concurrency slot, a retry's backoff): nobody is left to read the answer."""
    return caller.gone is not None and await caller.gone()


def json_reply(reply: UpstreamReply, dialect: Dialect) -> Any:
    """The JSON of a successful reply; any failure as a ProxyError, raised where the retry loop sees it
    (so that `success: false` on an HTTP 200, e.g. a 3040, is retried like the same error on a 429)."""
    if reply.status != 200:
        raise dialect.error(reply.status, reply.body, dict(reply.headers))
    try:
        payload = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None
    if isinstance(payload, dict) and payload.get("success") is False:
        raise dialect.error(200, reply.body, dict(reply.headers))
    return payload


def relayed(endpoint: Endpoint, headers: httpx.Headers) -> dict[str, str]:
    """The AI Gateway headers of an upstream reply (only gateway routes have any)."""
    return gateway.response_headers(headers.items()) if endpoint.via_gateway else {}
