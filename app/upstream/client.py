"""The process-wide upstream client: httpx's Request/Response API over the aiohttp-backed transport.

`open` hands the request straight to the transport. httpx's `AsyncClient.send` would add its auth, redirect,
cookie and event-hook machinery (~140 us per request measured here), none of which an upstream call uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx

from app.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable
from app.upstream.body import UnusableBody, body_chunks, content_encoding, content_length

log = logging.getLogger("workers_ai_proxy")
EXTRA_HEADERS = "extra_headers"  # a request extension: headers of one request, appended by the transport
WRITE_TIMEOUT = 30.0
DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    status: int
    headers: httpx.Headers
    body: bytes


class UpstreamClient:
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        connect_timeout: float,
        read_timeout: float,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        """`read_timeout` bounds the wait for the first byte and each read of a whole reply. Streams have no
        read timeout here: the relay watches them (first byte, idle gaps, total time). A whole reply is
        refused once it decodes to more than `max_reply_bytes`."""
        self._transport = transport
        self._max_reply_bytes = max_reply_bytes
        self._timeout = {"connect": connect_timeout, "read": read_timeout, "write": WRITE_TIMEOUT, "pool": None}
        self._stream_timeout = {**self._timeout, "read": None}

    async def request(
        self,
        url: str,
        body: bytes,
        headers: httpx.Headers,
        method: str = "POST",
        *,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> UpstreamReply:
        """Send and read the whole reply."""
        return await self.read(await self.open(url, body, headers, method, extra_headers=extra_headers))

    async def open(
        self,
        url: str,
        body: bytes,
        headers: httpx.Headers,
        method: str = "POST",
        *,
        stream: bool = False,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> httpx.Response:
        """Send and return as soon as the status line and headers are in; the body is the caller's to read.
        `headers` are shared (built once per token); `extra_headers` belong to this request only."""
        # `stream=` rather than `content=`: httpx then skips re-encoding the body and rebuilding the headers
        # (16 us of 18 per request here); the transport writes Host and Content-Length itself.
        timeout = self._stream_timeout if stream else self._timeout
        extensions: dict[str, Any] = {"timeout": timeout}
        if extra_headers:
            extensions[EXTRA_HEADERS] = extra_headers
        request = httpx.Request(
            method, _url(url), headers=headers, stream=httpx.ByteStream(body), extensions=extensions
        )
        try:
            return await self._transport.handle_async_request(request)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc

    async def read(self, response: httpx.Response) -> UpstreamReply:
        limit = self._max_reply_bytes
        chunks: list[bytes] = []
        size = 0
        try:
            declared = content_length(response)
            if declared is not None and declared > limit and not content_encoding(response):
                raise _too_large(limit)
            async for chunk in body_chunks(response):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return UpstreamReply(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self._transport.aclose()


def _too_large(limit: int) -> UnusableBody:
    return UnusableBody(f"Workers AI sent a reply larger than {limit} bytes (PROXY_MAX_REPLY_BYTES).")


def transport_error(exc: httpx.TransportError) -> ProxyError:
    """The client hears what kind of failure it was; the details (the upstream URL with the account id,
    bytes the upstream sent) go to the log only."""
    log.warning("upstream transport error: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout("Could not connect to the Workers AI upstream in time.", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout("The Workers AI upstream did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamUnreachable("Could not connect to the Workers AI upstream.")
    if isinstance(exc, httpx.RemoteProtocolError):
        return UpstreamUnreachable("The Workers AI upstream closed the connection or sent an invalid HTTP reply.")
    return UpstreamUnreachable("The connection to the Workers AI upstream failed.")


@lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)
