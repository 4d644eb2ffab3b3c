"""A chat answer kept by the reply cache: taken down from a stream as it leaves (`Transcript`, an encoder that
writes through), and played back as a stream of any protocol (`replayed`), in pieces, with fresh ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from app.chat.answer import FinalChoice
from app.chat.choice_stream import ChoiceStream
from app.chat.plan import OutputPlan
from app.errors import ProxyError
from app.exchange import Exchange
from app.frames.openai import FrameEncoder, StreamEnding
from app.pipeline.stream import Frames, StreamBody
from app.policies.cache import ReplyCache, Slot, mark
from app.protocol.common import Usage
from app.routing.route import Route

if TYPE_CHECKING:
    from app.pipeline.core import Reply

PIECE = 32  # characters per replayed frame: a replay reads like a stream, not one block
REPLAY_PLAN = OutputPlan(max_tokens=2**31, think=None)  # the answer was planned when it was made


Keep = Callable[[list[FinalChoice]], Awaitable[None]]  # where an answer goes once whole


def through_cache(
    cache: ReplyCache | None,
    slot: Slot | None,
    exchange: Exchange,
    primary: Route,
    replay: Callable[[Route, list[FinalChoice]], Reply],
    serve: Callable[[Route, float, Keep | None], Awaitable[Reply]],
) -> Callable[[Route, float], Awaitable[Reply]]:
    """A generated answer's serve step with the reply cache: on the primary route, the cached answer when there is
    one (replayed), else the upstream's, kept when it may be; a fallback's answer is never the asked model's."""
    if cache is not None:
        mark(exchange, "bypass" if slot is None else "miss")

    async def served(route: Route, deadline: float) -> Reply:
        if cache is None or slot is None or route is not primary:
            return await serve(route, deadline, None)
        if slot.lookup:
            finals = await cache.chat_answer(slot, exchange)
            if finals is not None:
                mark(exchange, "hit")
                return replay(route, finals)
        return await serve(route, deadline, partial(cache.keep_chat_answer, slot) if slot.store else None)

    return served


class Transcript:
    """A FrameEncoder that passes every call to another and keeps what the choice wrote."""

    __slots__ = ("_calls", "_content", "_inner", "_reasoning", "finish_reason", "stop_sequence")

    def __init__(self, inner: FrameEncoder) -> None:
        self._inner = inner
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None

    def role(self) -> bytes:
        return self._inner.role()

    def content(self, text: str) -> bytes:
        self._content.append(text)
        return self._inner.content(text)

    def reasoning(self, text: str) -> bytes:
        self._reasoning.append(text)
        return self._inner.reasoning(text)

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        self._calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}})
        return self._inner.tool_call_start(position, call_id, name)

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        if position < len(self._calls):
            self._calls[position]["function"]["arguments"] += arguments
        return self._inner.tool_call_arguments(position, arguments)

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        self.finish_reason, self.stop_sequence = reason, stop_sequence
        return self._inner.finish(reason, stop_sequence)

    def usage(self, usage: Usage) -> bytes:
        return self._inner.usage(usage)

    def final(self, usage: Usage | None) -> FinalChoice | None:
        if self.finish_reason is None:
            return None  # never finished
        content = "".join(self._content)
        return FinalChoice(
            content=None if self._calls and not content.strip() else content,
            reasoning="".join(self._reasoning) or None,
            tool_calls=self._calls,
            finish_reason=self.finish_reason,
            usage=usage,
            stop_sequence=self.stop_sequence,
        )


class StoringEnding:
    """A stream's ending that hands the finished answer to the cache before the closing frames leave."""

    __slots__ = ("_inner", "_store", "_transcripts", "keepalive")

    def __init__(
        self,
        inner: StreamEnding,
        transcripts: Sequence[Transcript],
        store: Callable[[list[FinalChoice]], Awaitable[None]],
    ) -> None:
        self._inner, self._transcripts, self._store = inner, transcripts, store
        self.keepalive = inner.keepalive

    async def completed(self, usage: Usage | None) -> None:
        finals = [transcript.final(usage) for transcript in self._transcripts]
        if all(final is not None for final in finals):
            await self._store([final for final in finals if final is not None])
        await self._inner.completed(usage)

    def closing(self, usage: Usage | None) -> bytes:
        return self._inner.closing(usage)

    def failure(self, error: ProxyError) -> bytes:
        return self._inner.failure(error)


def replayed(
    finals: Sequence[FinalChoice],
    encoders: Sequence[FrameEncoder],
    ending: StreamEnding,
    prompts: int = 1,
    echoes: Sequence[str] = (),
) -> StreamBody:
    """Cached choices as a stream of the encoders' protocol: role, reasoning and content in pieces, tool calls,
    one finish each, then the protocol's own ending (usage, `[DONE]`, ...). `prompts`, `echoes`: text
    completions' prompts, and the prompt each choice repeats first (`echo`)."""
    sinks = [ChoiceStream(encoder, REPLAY_PLAN) for encoder in encoders]
    frames = [
        _frames(final, sink, encoder, echoes[i] if i < len(echoes) else "")
        for i, (final, sink, encoder) in enumerate(zip(finals, sinks, encoders, strict=True))
    ]
    return StreamBody(frames, sinks, ending, prompts=prompts)


async def _frames(final: FinalChoice, sink: ChoiceStream, encoder: FrameEncoder, echo: str) -> Frames:
    if echo:
        yield encoder.content(echo)
    for piece in _pieces(final.reasoning):
        sink.reasoning(piece)
    for piece in _pieces(final.content):
        sink.content(piece)
    for call in final.tool_calls:
        sink.tool_call(None, call["id"], call["function"]["name"], call["function"]["arguments"])
    sink.finish(final.finish_reason, final.usage, final.stop_sequence)
    yield sink.take()


def _pieces(text: str | None) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)] if text else []
