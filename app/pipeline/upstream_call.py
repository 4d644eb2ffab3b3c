"""One logical upstream call, made resilient: a concurrency slot, the route's circuit breaker, retries with
backoff on what may succeed on a second try, and timeouts for the first byte and the whole request. Every
attempt is reported to the observer.

Retries happen only before anything reached the client: a stream is retried until its upstream answered
with a stream, never after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.dialects.base import AnswerReader
from app.errors import ClientClosedRequest, ProxyError, RequestTimeout, UpstreamError, UpstreamTimeout
from app.exchange import Exchange
from app.observe.observer import Attempt, AttemptOutcome, Observer
from app.pipeline.pacing import Pacer
from app.pipeline.stream import Frames, StreamGuard, answer_frames, choice_frames
from app.policies import gateway_headers
from app.resilience.breaker import BreakerBoard
from app.resilience.limiter import Gate, Lease
from app.resilience.retry import RetryPolicy
from app.routing.route import Route
from app.upstream.body import body_chunks
from app.upstream.client import UpstreamClient, transport_error
from app.upstream.envelope import json_reply, unwrap_result
from app.upstream.sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder
from app.upstream.targets import Destination, Targets, media_headers

T = TypeVar("T")
BUSY = 3040  # Workers AI: "Capacity temporarily exceeded" (at once, with options.rejectIfBusy)


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """Where one request goes and on whose behalf."""

    route: Route
    destination: Destination
    exchange: Exchange
    deadline: float  # loop time by which the whole request, retries and stream included, must be done
    extra_headers: tuple[tuple[str, str], ...] = ()  # per request, e.g. x-session-affinity
    busy_fails_over: bool = False  # rejectIfBusy was sent for a fallback: a 3040 goes to it, not to retries


@dataclass(frozen=True, slots=True)
class MediaReply:
    """What a media model answered: bytes (an image, audio) or a JSON result, never both."""

    content_type: str
    body: bytes | None
    result: Any
    headers: dict[str, str]  # AI Gateway response headers


@dataclass(frozen=True, slots=True)
class MediaStream:
    """Bytes relayed as the upstream sends them (speech)."""

    content_type: str
    chunks: AsyncIterator[bytes]
    headers: dict[str, str]


@dataclass(slots=True)
class OpenedChoice:
    frames: Frames
    headers: dict[str, str]  # AI Gateway response headers
    response: httpx.Response | None = None  # the upstream stream, when there is one to release
    guard: StreamGuard | None = None


@dataclass(frozen=True, slots=True)
class StreamTimeouts:
    first_byte: float
    idle: float
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES


class ResilientClient:
    def __init__(
        self,
        upstream: UpstreamClient,
        targets: Targets,
        retry: RetryPolicy,
        breakers: BreakerBoard,
        gate: Gate,
        timeouts: StreamTimeouts,
        observer: Observer,
        clock: Callable[[], float],
        pacer: Pacer | None = None,
    ) -> None:
        self.upstream = upstream
        self.targets = targets
        self.retry = retry
        self.breakers = breakers
        self.gate = gate
        self.timeouts = timeouts
        self.observer = observer
        self.pacer = pacer
        self.clock = clock  # the observer's clock, for attempt durations

    def headers(self, call: UpstreamCall, *, stream: bool) -> httpx.Headers:
        identity = call.exchange.identity
        assert identity is not None  # the pipeline runs only for identified callers
        return self.targets.headers(
            identity.upstream_token,
            stream=stream,
            gateway=call.destination.via_gateway,
            extra=call.exchange.gateway_headers,
        )

    async def json(self, call: UpstreamCall, body: bytes) -> tuple[Any, dict[str, str]]:
        """A whole JSON reply, and the gateway headers it carried. The transport's read timeout bounds the
        wait for the first byte."""

        async def once(slot: Lease) -> tuple[Any, dict[str, str]]:
            try:
                reply = await self.upstream.request(
                    call.destination.url, body, self.headers(call, stream=False), extra_headers=call.extra_headers
                )
            finally:
                slot.release()
            return json_reply(reply), relayed(call.destination, reply.headers)

        return await self._resilient(call, once, until_first_byte=False)

    async def media(self, call: UpstreamCall, body: bytes, content_type: str, query: str = "") -> MediaReply:
        """A whole reply that may be JSON (in the v4 envelope, unwrapped) or an image or audio as it came."""
        headers = media_headers(self.headers(call, stream=False), content_type)
        url = call.destination.url + (f"?{query}" if query else "")

        async def once(slot: Lease) -> MediaReply:
            try:
                reply = await self.upstream.request(url, body, headers, extra_headers=call.extra_headers)
            finally:
                slot.release()
            kind = reply.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            relayed_headers = relayed(call.destination, reply.headers)
            if reply.status != 200 or kind in ("application/json", "text/json") or kind.endswith("+json"):
                return MediaReply(kind or "application/json", None, unwrap_result(json_reply(reply)), relayed_headers)
            return MediaReply(kind or "application/octet-stream", reply.body, None, relayed_headers)

        return await self._resilient(call, once, until_first_byte=False)

    async def media_stream(self, call: UpstreamCall, body: bytes, content_type: str) -> MediaReply | MediaStream:
        """As `media`, but bytes (audio) are relayed as they arrive: the concurrency slot is held until the last
        one is read (or the client goes), each wait bounded by PROXY_IDLE_TIMEOUT. JSON comes back whole."""
        headers = media_headers(self.headers(call, stream=True), content_type)
        idle = self.timeouts.idle

        async def once(slot: Lease) -> MediaReply | MediaStream:
            try:
                response = await self.upstream.open(
                    call.destination.url, body, headers, stream=True, extra_headers=call.extra_headers
                )
                kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                relayed_headers = relayed(call.destination, response.headers)
                if response.status_code != 200 or "json" in kind:
                    reply = await self.upstream.read(response)
                    slot.release()
                    return MediaReply(
                        kind or "application/json", None, unwrap_result(json_reply(reply)), relayed_headers
                    )
            except BaseException:
                slot.release()
                raise
            return MediaStream(kind or "application/octet-stream", _relay(response, slot, idle), relayed_headers)

        return await self._resilient(call, once, until_first_byte=True)

    async def answer(
        self, call: UpstreamCall, reader: AnswerReader, body: bytes
    ) -> tuple[UpstreamAnswer, dict[str, str]]:
        payload, headers = await self.json(call, body)
        return reader.parse(payload), headers

    async def open_choice(
        self, call: UpstreamCall, reader: AnswerReader, body: bytes, sink: ChoiceStream, upstream_stream: bool
    ) -> OpenedChoice:
        """Fails as a plain HTTP error until the upstream accepted; from then on errors travel in-band."""
        if not upstream_stream:
            answer, headers = await self.answer(call, reader, body)
            return OpenedChoice(answer_frames(answer, sink), headers)

        async def once(slot: Lease) -> OpenedChoice:
            try:
                response = await self.upstream.open(
                    call.destination.url,
                    body,
                    self.headers(call, stream=True),
                    stream=True,
                    extra_headers=call.extra_headers,
                )
                headers = relayed(call.destination, response.headers)
                if response.status_code != 200 or "json" in response.headers.get("content-type", ""):
                    # An error, or a model that answered a stream request with one JSON body: replay it.
                    answer = reader.parse(json_reply(await self.upstream.read(response)))
                    slot.release()
                    return OpenedChoice(answer_frames(answer, sink), headers)
            except BaseException:
                slot.release()
                raise
            # from here the guard holds the slot and watches the stream
            timeouts = self.timeouts
            guard = StreamGuard(response, timeouts.first_byte, timeouts.idle, call.deadline, slot)
            frames = choice_frames(response, reader.stream(sink), sink, guard, SSEDecoder(timeouts.max_event_bytes))
            return OpenedChoice(frames, headers, response, guard)

        return await self._resilient(call, once, until_first_byte=True)

    async def _resilient(
        self, call: UpstreamCall, once: Callable[[Lease], Awaitable[T]], *, until_first_byte: bool
    ) -> T:
        """`once` owns the slot it is given. One timer per attempt: the total deadline, or for a stream
        opening, the first byte (the stream's own guard takes over from there)."""
        exchange = call.exchange
        tenant = exchange.identity.tenant if exchange.identity is not None else ""
        breaker = self.breakers.get(call.route.upstream, call.route.model_id, tenant)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            if self.pacer is not None:
                await self.pacer.pace(call.route.model_id)
            breaker.check()
            try:
                slot = await self.gate.acquire()
            except BaseException:
                breaker.abandon()  # overloaded, or the client left while queued: a probe must not stay taken
                raise
            if (slot.waited or attempt) and await _client_gone(exchange):
                slot.release()
                breaker.abandon()
                raise ClientClosedRequest("The client disconnected before the upstream request was sent.")
            bound = min(loop.time() + self.timeouts.first_byte, call.deadline) if until_first_byte else call.deadline
            exchange.attempts += 1
            began = self.clock()
            try:
                async with asyncio.timeout_at(bound):
                    result = await once(slot)
            except TimeoutError:
                breaker.failure()
                error: ProxyError = (
                    UpstreamTimeout("The Workers AI upstream did not start its answer in time.")
                    if bound < call.deadline
                    else UpstreamTimeout("The request exceeded PROXY_TOTAL_TIMEOUT.")
                )
                self._report(exchange, attempt, "timeout", began, error)
                raise error from None
            except ProxyError as error:
                if _upstream_fault(error):
                    breaker.failure()
                else:
                    breaker.success()  # the upstream answered; what it said was about the request
                if call.busy_fails_over and error.upstream_code == BUSY:
                    self._report(exchange, attempt, "error", began, error)
                    raise  # the model said at once that it is busy: its fallback serves, not a retry
                wait = self.retry.delay(attempt, error)
                retrying = self.retry.should_retry(attempt, error, wait, call.deadline - loop.time())
                self._report(exchange, attempt, "error", began, error, wait if retrying else None)
                if not retrying:
                    raise
                await asyncio.sleep(wait)
                attempt += 1
                continue
            except BaseException:
                breaker.abandon()  # cancelled, e.g. the client left: no verdict on the upstream
                self._report(exchange, attempt, "cancelled", began)
                raise
            breaker.success()
            self._report(exchange, attempt, "ok", began)
            return result

    def _report(
        self,
        exchange: Exchange,
        number: int,
        outcome: AttemptOutcome,
        began: float,
        error: ProxyError | None = None,
        retry_delay: float | None = None,
    ) -> None:
        self.observer.upstream_attempt(
            exchange,
            Attempt(
                number,
                outcome,
                self.clock() - began,
                error.http_status if error is not None else None,
                error.code if error is not None else None,
                error.upstream_code if error is not None else None,
                retry_delay,
            ),
        )


async def _relay(response: httpx.Response, slot: Lease, idle: float) -> AsyncIterator[bytes]:
    try:
        chunks = body_chunks(response).__aiter__()
        while True:
            try:
                async with asyncio.timeout(idle):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise UpstreamTimeout("The Workers AI upstream stopped sending audio (PROXY_IDLE_TIMEOUT).") from None
            except httpx.TransportError as exc:
                raise transport_error(exc) from exc
            yield chunk
    finally:
        slot.release()
        await response.aclose()


def _upstream_fault(error: ProxyError) -> bool:
    """Failures that say something about the upstream's health: 5xx, unusable replies, timeouts. Not the
    client's request (4xx), not one caller's credentials, rate limit or quota (401/403/429: another caller's
    token would do), not our own limits (503s of the proxy)."""
    return isinstance(error, UpstreamError | RequestTimeout)


async def _client_gone(exchange: Exchange) -> bool:
    """Checked after a wait (a concurrency slot, a retry's backoff): nobody is left to read the answer."""
    return exchange.client_gone is not None and await exchange.client_gone()


def relayed(destination: Destination, headers: httpx.Headers) -> dict[str, str]:
    """The AI Gateway headers of an upstream reply (only gateway routes have any)."""
    return gateway_headers.response_headers(headers.items()) if destination.via_gateway else {}
