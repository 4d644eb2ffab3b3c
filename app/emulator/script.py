"""Scripting the emulator (for tests, or anyone who embeds it): replies to give next, exactly as written (status,
headers, body, or a stream of chunks with delays, holds and cuts); every request recorded; clients that went away
mid-stream noticed. Without a scripted reply waiting, the emulator answers as Workers AI would."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class Scripted:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    chunks: list[bytes] | None = None  # a streamed body, written piece by piece
    chunk_delay: float = 0.0  # between two chunks
    delay: float = 0.0  # before the status line
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    drop: bool = False  # close the connection instead of answering
    drop_after_chunks: bool = False  # cut the connection after the chunks, with no end of stream
    hold: threading.Event | None = None  # after the first chunk, wait until the script's owner sets it


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class Script:
    """Thread-safe enough for a test thread that queues replies while the emulator's loop serves them."""

    def __init__(self) -> None:
        self.replies: list[Scripted] = []
        self.requests: list[Recorded] = []
        self.catalogue_requests: list[Recorded] = []  # the proxy reads the catalogue on its own schedule
        self.catalogue_reply: Scripted | None = None  # e.g. a 403 for a token that may not list models
        self.disconnects: list[float] = []  # monotonic times at which a client went away mid-stream
        self.in_flight = 0  # requests being answered (a test waits for none before the next one starts)

    def push(self, *replies: Scripted) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        self.replies.clear()
        self.requests.clear()
        self.catalogue_requests.clear()
        self.catalogue_reply = None
        self.disconnects.clear()

    def client_left(self) -> None:
        self.disconnects.append(time.monotonic())

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        raw = await request.read()  # cached by aiohttp: the handler reads it again
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        recorded = Recorded(request.method, request.path, dict(request.headers), body)
        self.in_flight += 1
        try:
            if request.path.endswith("/ai/models/search"):
                self.catalogue_requests.append(recorded)
                if self.catalogue_reply is not None:
                    return await serve(request, self.catalogue_reply, self)
                return await handler(request)
            self.requests.append(recorded)
            if self.replies:
                return await serve(request, self.replies.pop(0), self)
            return await handler(request)
        finally:
            self.in_flight -= 1


SCRIPT_KEY = web.AppKey("script", Script)


async def serve(request: web.Request, reply: Scripted, script: Script) -> web.StreamResponse:
    if reply.delay:
        await asyncio.sleep(reply.delay)
    if reply.drop:
        return _cut(request, web.Response(status=200))
    if reply.chunks is None:
        payload = reply.body if reply.body is not None else orjson.dumps(reply.json)
        ctype = reply.content_type or "application/json"
        return web.Response(body=payload, status=reply.status, headers=reply.headers, content_type=ctype)
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    response.content_type = reply.content_type or "text/event-stream"
    await response.prepare(request)
    try:
        for index, chunk in enumerate(reply.chunks):
            if index == 1 and reply.hold is not None:
                await asyncio.get_running_loop().run_in_executor(None, reply.hold.wait, 60)
            if index and reply.chunk_delay:  # between chunks: the end follows the last one at once
                await asyncio.sleep(reply.chunk_delay)
            await response.write(chunk)
        if reply.drop_after_chunks:
            await asyncio.sleep(0.05)  # let the chunks reach the proxy before the cut
            return _cut(request, response)
        await response.write_eof()
    except ConnectionResetError:  # the proxy went away mid-stream
        script.client_left()
        return response
    except asyncio.CancelledError:
        script.client_left()
        raise
    return response


def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Abort the TCP connection: the peer sees a reset, not an orderly end."""
    if request.transport is not None:
        request.transport.abort()
    return response
