"""Streamed replies: upstream SSE -> ChoiceStream frames for one or n choices, then usage and `[DONE]`.

Until the upstream accepts, failures are plain HTTP errors (raised by the proxy); from the first frame on
they travel in-band as one `data: {"error": ...}` frame followed by `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence

import httpx

from app.chat.answer import UpstreamAnswer, total_usage_of
from app.chat.choice_stream import ChoiceStream
from app.chat.tool_calls import openai_tool_calls
from app.dialects.base import ChatStreamTranslator
from app.errors import ProxyError, UpstreamError, UpstreamTimeout
from app.exchange import Outcome
from app.frames.openai import FrameEncoder, StreamEnding
from app.protocol.common import Usage
from app.resilience.limiter import Lease
from app.upstream.body import body_chunks
from app.upstream.client import transport_error
from app.upstream.sse import SSEDecoder

Frames = AsyncGenerator[bytes, None]


class StreamGuard:
    """Holds one stream's upstream slot and watches the stream: the first chunk within `first_byte` seconds,
    then one at least every `idle` seconds, all before `deadline` (loop time). One timer per stream that
    wakes at most every `idle` seconds and re-arms itself; a chunk costs one clock read. A stream that goes
    quiet is closed, which wakes the relay's pending read with an error that the relay reports as the
    timeout it was."""

    __slots__ = (
        "_closing",
        "_deadline",
        "_first_byte",
        "_handle",
        "_idle",
        "_last",
        "_loop",
        "_response",
        "_slot",
        "_start",
        "expired",
        "seen",
    )

    def __init__(
        self, response: httpx.Response, first_byte: float, idle: float, deadline: float, slot: Lease | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._response = response
        self._first_byte, self._idle, self._deadline = first_byte, idle, deadline
        self._slot = slot
        self._start = self._last = self._loop.time()
        self.seen = False  # a chunk has arrived
        self.expired: ProxyError | None = None
        self._closing: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self._handle = self._loop.call_at(self._next_check(self._start), self._check)

    def touch(self) -> None:
        self._last = self._loop.time()
        self.seen = True

    def close(self) -> None:
        self._handle.cancel()
        if self._slot is not None:
            self._slot.release()

    def _due(self) -> float:
        if self.seen:
            return min(self._last + self._idle, self._deadline)
        return min(self._start + self._first_byte, self._deadline)

    def _next_check(self, now: float) -> float:
        # Waking every `idle` seconds at most notices a first chunk followed by a stall in time even when
        # the first-byte limit is the longer one.
        return min(self._due(), now + self._idle)

    def _check(self) -> None:
        now = self._loop.time()
        due = self._due()
        if now < due:
            self._handle = self._loop.call_at(self._next_check(now), self._check)
            return
        if due >= self._deadline:
            self.expired = UpstreamTimeout("The stream exceeded PROXY_TOTAL_TIMEOUT and was ended.")
        elif self.seen:
            self.expired = UpstreamTimeout(f"The Workers AI stream stalled: no data for {self._idle:g} s.")
        else:
            self.expired = UpstreamTimeout(f"The Workers AI stream sent nothing for {self._first_byte:g} s.")
        self._closing = self._loop.create_task(self._response.aclose())


async def choice_frames(
    response: httpx.Response,
    translator: ChatStreamTranslator,
    sink: ChoiceStream,
    guard: StreamGuard | None = None,
    decoder: SSEDecoder | None = None,
) -> Frames:
    """One choice's frames as the upstream produces them; raises ProxyError when the upstream fails.

    The first output leaves before the rest of its read is translated: time to first token is what a
    user sees. A matched stop sequence ends the choice and closes the upstream request early.
    """
    decoder = decoder or SSEDecoder()
    feed = translator.feed
    first = True
    may_stop = sink.may_stop
    touch = guard.touch if guard is not None else _nothing
    try:
        async for chunk in body_chunks(response):
            touch()
            for data in decoder.feed(chunk):
                feed(data)
                if first and sink.pending:
                    first = False
                    yield sink.take()
                if may_stop and sink.stopped:
                    sink.finish("stop", None)
                    break
            out = sink.take()
            if out:
                yield out
            if sink.finished:
                return
        for data in decoder.flush():
            translator.feed(data)
        if not translator.done:
            raise UpstreamError("The Workers AI stream ended before [DONE]; the answer is incomplete.")
        out = sink.take()
        if out:
            yield out
    except httpx.TransportError as exc:
        if guard is not None and guard.expired is not None:
            raise guard.expired from None
        raise transport_error(exc) from exc
    finally:
        # Closing does not wait on the network (an unfinished body just drops its connection), so a
        # cancelled stream still gets here in full.
        if guard is not None:
            guard.close()
        await response.aclose()


def _nothing() -> None:
    return None


async def answer_frames(answer: UpstreamAnswer, sink: ChoiceStream) -> Frames:
    """A whole reply (JSON mode, or a model that answered a stream request with JSON) replayed as frames."""
    if answer.reasoning:
        sink.reasoning(answer.reasoning)
    if answer.content:
        sink.content(answer.content)
    for call in openai_tool_calls(answer.tool_calls):
        sink.tool_call(None, call["id"], call["function"]["name"], call["function"]["arguments"])
    sink.finish(answer.finish, answer.usage)
    yield sink.take()


async def prefixed(encoder: FrameEncoder, text: str, frames: Frames) -> Frames:
    """`echo` for text completions: the prompt first, then the completion."""
    yield encoder.content(text)
    async for piece in frames:
        yield piece


StreamEnd = Callable[["Outcome", "Usage | None", "ProxyError | None"], Awaitable[None]]


class StreamBody:
    """The frames of a streamed reply, and a close that releases every upstream response even if the
    frames were never iterated (a client gone before the first one). `on_first` hears the first frame leave
    (time to first token); `on_end` hears, exactly once, how the stream ended and the usage it produced."""

    __slots__ = (
        "_choices",
        "_ended",
        "_frames",
        "_guards",
        "_responses",
        "_sinks",
        "ending",
        "on_end",
        "on_first",
        "scrub",
    )

    def __init__(
        self,
        choices: Sequence[Frames],
        sinks: Sequence[ChoiceStream],
        ending: StreamEnding,
        responses: Sequence[httpx.Response] = (),
        prompts: int = 1,
        guards: Sequence[StreamGuard] = (),
        on_end: StreamEnd | None = None,
    ) -> None:
        self._choices = choices
        self._responses = responses
        self._guards = guards
        self._sinks = sinks
        self.on_end = on_end
        self._ended = False
        self.on_first: Callable[[], None] | None = None
        # what keeps secrets out of an in-band error message; set by the HTTP layer, which knows them
        self.scrub: Callable[[str], str] | None = None
        self._frames = _completion(choices, sinks, ending, prompts, self)
        self.ending = ending

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames  # iterated directly: no indirection per frame

    async def aclose(self, outcome: Outcome = "disconnected") -> None:
        """`outcome`: why the stream stops here if it has not ended yet (the client left, or a shutdown)."""
        await self._frames.aclose()
        for choice in self._choices:
            await choice.aclose()
        for guard in self._guards:
            guard.close()
        for response in self._responses:
            await response.aclose()
        await self.end(outcome, partial_usage(self._sinks), None)

    async def end(self, outcome: Outcome, usage: Usage | None, error: ProxyError | None) -> None:
        if self._ended:
            return
        self._ended = True
        if self.on_end is not None:
            await self.on_end(outcome, usage, error)


async def _completion(
    choices: Sequence[Frames], sinks: Sequence[ChoiceStream], ending: StreamEnding, prompts: int, body: StreamBody
) -> Frames:
    try:
        stream = choices[0] if len(choices) == 1 else _merge(choices)
        async for frames in stream:
            if body.on_first is not None:
                body.on_first()
                body.on_first = None
            yield frames
        total = total_usage_of([sink.usage for sink in sinks], prompts)
        await ending.completed(total)
        yield ending.closing(total)
        await body.end("completed", total, None)
    except ProxyError as exc:
        if body.scrub is not None:
            exc.message = body.scrub(exc.message)
        yield ending.failure(exc)
        await body.end("failed", partial_usage(sinks), exc)


def partial_usage(sinks: Sequence[ChoiceStream]) -> Usage | None:
    """What was generated so far: the upstream's count where a choice finished, else the pieces seen."""
    completion = sum(sink.produced for sink in sinks)
    prompt = max((sink.usage["prompt_tokens"] for sink in sinks if sink.usage is not None), default=0)
    if not completion and not prompt:
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _merge(choices: Sequence[Frames]) -> Frames:
    """n choices streamed at once: frames interleave as each upstream produces them."""
    queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue()

    async def pump(choice: Frames) -> None:
        try:
            async for frames in choice:
                await queue.put(frames)
            await queue.put(None)
        except Exception as exc:  # handed to the reader, which raises it
            await queue.put(exc)

    tasks = [asyncio.create_task(pump(choice)) for choice in choices]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
