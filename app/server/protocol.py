"""uvicorn's httptools protocol, guarded: request heads capped in size, phases reported to the warden.

uvicorn by itself accepts request heads of any size (httptools keeps growing them; a 256 MB header took
minutes of CPU and 600 MB before the key check) and never times out a client that is slow to send its head
or body. Here the bytes of a head are counted as they arrive, before the parser sees them whole, and each
header as the parser completes it; either over its limit is a 431. Timeouts and the connection cap are the
warden's (`app.server.warden`), found in the app's lifespan state.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.server.coalescing import CoalescingTransport
from app.server.warden import STATE_KEY, ConnectionWarden, Phase

_base = HttpToolsProtocol  # its callbacks, called directly: cheaper than super() on every header
HEAD, BODY, BUSY, IDLE = Phase.HEAD, Phase.BODY, Phase.BUSY, Phase.IDLE  # plain names: enum lookups cost

LINGER = 2.0  # seconds a refused connection is read from before it is closed
UNLIMITED = 1 << 62  # without a warden (an app not built by create_app) the protocol is uvicorn's own


def _no_clock() -> float:
    return 0.0


class HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing at once."""


def _refusal(status: int, reason: str, message: str, code: str) -> bytes:
    error_type = "server_error" if status >= 500 else "invalid_request_error"
    body = orjson.dumps({"error": {"message": message, "type": error_type, "param": None, "code": code}})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEAD_TOO_LARGE = _refusal(
    431,
    "Request Header Fields Too Large",
    "The request line and headers are larger than this server accepts (PROXY_MAX_HEAD_BYTES, PROXY_MAX_HEADER_BYTES).",
    "request_header_fields_too_large",
)
HEAD_TIMEOUT = _refusal(
    408, "Request Timeout", "The request head did not arrive in time (PROXY_HEADER_TIMEOUT).", "request_timeout"
)
BODY_TIMEOUT = _refusal(
    408, "Request Timeout", "The request body did not arrive in time (PROXY_BODY_TIMEOUT).", "request_timeout"
)
NO_ROOM = _refusal(
    503, "Service Unavailable", "The server is at its limit of connections (PROXY_MAX_CONNECTIONS).", "overloaded"
)
INVALID = _refusal(400, "Bad Request", "Invalid HTTP request received.", "invalid_http_request")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.warden: ConnectionWarden | None = app_state.get(STATE_KEY)
        self._clock = self.warden.clock if self.warden is not None else _no_clock
        limits = self.warden.limits if self.warden is not None else None
        self._max_head = limits.max_head_bytes if limits else UNLIMITED
        self._max_header = limits.max_header_bytes if limits else UNLIMITED
        self.phase = HEAD
        self.since = 0.0
        self._head_bytes = 0  # received since the head began (a bound even if the parser never completes it)
        self._head_size = 0  # of the request line and headers the parser has completed
        self._message_complete = False
        self._linger: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if self.warden is not None:
            self.since = self._clock()
            self.warden.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.warden is not None:
            self.warden.release(self)
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._linger is not None:
            return  # refused: what the client still sends is read and dropped until it closes
        if self.phase is IDLE:
            self._enter(HEAD)
        if self.phase is HEAD:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            self._refuse(HEAD_TOO_LARGE if isinstance(exc.__context__, HeadTooLarge) else INVALID)
            return
        except httptools.HttpParserError:
            self.logger.debug("Invalid HTTP request received.")
            self._refuse(INVALID)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.phase is HEAD and self._head_bytes > self._max_head:
            self._refuse(HEAD_TOO_LARGE)

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        _base.on_message_begin(self)
        self._message_complete = False
        self._head_size = 0
        if self.phase is IDLE:
            self._enter(HEAD)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._head_size > self._max_head:
            raise HeadTooLarge
        _base.on_url(self, url)

    def on_header(self, name: bytes, value: bytes) -> None:  # every header of every request: kept lean
        size = len(name) + len(value)
        self._head_size += size + 4
        if size > self._max_header or self._head_size > self._max_head:
            raise HeadTooLarge
        _base.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        self._enter(BODY)
        _base.on_headers_complete(self)

    def on_message_complete(self) -> None:
        _base.on_message_complete(self)
        self._message_complete = True
        # the answer may already be out (a 404 that never read the body): then the connection idles
        self._enter(IDLE if self.cycle is not None and self.cycle.response_complete else BUSY)

    def on_response_complete(self) -> None:
        _base.on_response_complete(self)
        if self._message_complete and not self.transport.is_closing():
            self._enter(IDLE)
        # else the body is still arriving: it stays in BODY, with its deadline

    # -- what the warden asks --------------------------------------------------------------------
    def expire(self) -> None:
        if self.phase is HEAD:
            if self._head_bytes:
                self._refuse(HEAD_TIMEOUT)
            else:
                self._close()  # a connection that never said anything gets no answer
        elif self.cycle is not None and self.cycle.response_started:
            self._close()
        else:
            self._refuse(BODY_TIMEOUT)

    def evict(self) -> None:
        self._close()

    def turn_away(self) -> None:
        self._refuse(NO_ROOM)

    # -- helpers -----------------------------------------------------------------------------------
    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self.since = self._clock()
        if phase is HEAD:
            self._head_bytes = 0

    def _refuse(self, response: bytes) -> None:
        """Answer and close gently: closing a socket with unread data resets the connection, and a client
        still sending (the rest of a header bomb) would lose the answer. So the write side is closed, what
        arrives meanwhile is dropped, and the socket closes when the client does, or after LINGER seconds."""
        if self.transport.is_closing() or self._linger is not None:
            return
        self._abandon_request()
        self.transport.write(response)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER, self.transport.close)

    def _close(self) -> None:
        self._abandon_request()
        if not self.transport.is_closing():
            self.transport.close()

    def _abandon_request(self) -> None:
        """A request the app is working on hears that the client is gone; its answer goes nowhere."""
        self.phase = BUSY  # closing: neither evictable nor due again
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
