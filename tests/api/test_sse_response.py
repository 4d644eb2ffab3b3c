"""The SSE relay response on its own: frames in order, keep-alives in silences, prompt stop on disconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from app.api.event_stream import KEEPALIVE_FRAME, RelayEventSource

SCOPE = {"type": "http", "method": "POST", "path": "/", "headers": [], "asgi": {"version": "3.0"}}


class Client:
    def __init__(self, leave_after: float | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self._gone = asyncio.Event()
        self._leave_after = leave_after

    async def receive(self) -> dict[str, Any]:
        if self._leave_after is None:
            await self._gone.wait()
        else:
            await asyncio.sleep(self._leave_after)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self._gone.set()

    @property
    def body(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


def test_frames_keep_alives_and_end() -> None:
    async def frames() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        await asyncio.sleep(0.35)
        yield b"data: 2\n\n"

    client = Client()
    asyncio.run(RelayEventSource(frames(), ping=0.1)(SCOPE, client.receive, client.send))
    assert client.sent[0]["type"] == "http.response.start" and client.sent[0]["status"] == 200
    body = client.body
    assert body[0] == b"data: 1\n\n" and body[-2:] == [b"data: 2\n\n", b""]
    assert body.count(KEEPALIVE_FRAME) >= 2
    headers = dict(client.sent[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"x-accel-buffering"] == b"no"


def test_client_disconnect_stops_the_stream_and_runs_its_cleanup() -> None:
    closed: list[bool] = []

    async def frames() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
                await asyncio.sleep(0.05)
        finally:
            closed.append(True)

    async def serve() -> None:
        client = Client(leave_after=0.2)
        await RelayEventSource(frames(), ping=0)(SCOPE, client.receive, client.send)
        # the serving task must not be left cancelled: the server goes on using it
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0

    asyncio.run(asyncio.wait_for(serve(), 30))  # the frames never end: only the disconnect ends the stream
    assert closed == [True]


def test_upstream_is_released_even_if_the_stream_never_started() -> None:
    import httpx

    from app.chat.choice_stream import ChoiceStream
    from app.chat.plan import OutputPlan
    from app.dialects.stream_events import ChatEventStream
    from app.frames.openai import ChunkEncoder, OpenAIEnding
    from app.pipeline.stream import StreamBody, choice_frames

    closed: list[bool] = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"data: [DONE]\n\n"

        async def aclose(self) -> None:
            closed.append(True)

    response = httpx.Response(200, stream=Body())
    sink = ChoiceStream(ChunkEncoder("id", 1, "m"), OutputPlan(max_tokens=16))
    body = StreamBody([choice_frames(response, ChatEventStream(sink), sink)], [sink], OpenAIEnding(), [response])
    asyncio.run(body.aclose())
    assert closed == [True]


def test_a_messages_stream_keeps_alive_and_shuts_down_in_anthropics_words() -> None:
    """Keep-alives and the shutdown frame are the protocol's: `event: ping` and `event: error` for Messages."""
    from app.drain import Drain
    from app.frames.anthropic import MessagesEncoder, MessagesEnding
    from app.pipeline.stream import StreamBody

    encoder = MessagesEncoder("msg_1", "m")
    drain = Drain(0)
    scope = {**SCOPE, "app": SimpleNamespace(state=SimpleNamespace(proxy=SimpleNamespace(drain=drain)))}
    said_hi = asyncio.Event()

    async def frames() -> AsyncIterator[bytes]:
        yield encoder.role()
        await asyncio.sleep(0.35)  # three keep-alive periods: the timers fire first, in deadline order
        yield encoder.content("hi")
        said_hi.set()
        await asyncio.sleep(3600)  # until the shutdown ends it

    async def scenario() -> Client:
        client = Client()
        relay = RelayEventSource(StreamBody([frames()], [], MessagesEnding(encoder)), ping=0.1)
        task = asyncio.ensure_future(relay(scope, client.receive, client.send))
        await said_hi.wait()
        await asyncio.sleep(0)  # the frame is sent
        drain.abort_all()
        await task
        return client

    client = asyncio.run(scenario())
    body = b"".join(client.body)
    assert body.count(b'event: ping\ndata: {"type":"ping"}\n\n') >= 2 and b": keep-alive" not in body
    last = body.rstrip(b"\n").split(b"\n\n")[-1]
    assert last.startswith(b"event: error\n") and b"overloaded_error" in last and b"[DONE]" not in body
