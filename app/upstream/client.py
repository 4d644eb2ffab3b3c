"""The process-wide upstream client: httpx's Request/Response API over the aiohttp-backed transport.

`open` hands the request straight to the transport. httpx's `AsyncClient.send` would add its auth, redirect,
cookie and event-hook machinery (~140 us per request measured here), none of which an upstream call uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

import httpx

from app.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable

WRITE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    status: int
    headers: httpx.Headers
    body: bytes


class UpstreamClient:
    def __init__(self, transport: httpx.AsyncBaseTransport, connect_timeout: float, read_timeout: float) -> None:
        """`read_timeout` bounds the wait for the first byte and each read of a whole reply. Streams have no
        read timeout here: the relay watches them (first byte, idle gaps, total time)."""
        self._transport = transport
        self._timeout = {"connect": connect_timeout, "read": read_timeout, "write": WRITE_TIMEOUT, "pool": None}
        self._stream_timeout = {**self._timeout, "read": None}

    async def request(self, url: str, body: bytes, headers: httpx.Headers, method: str = "POST") -> UpstreamReply:
        """Send and read the whole reply."""
        return await self.read(await self.open(url, body, headers, method))

    async def open(
        self, url: str, body: bytes, headers: httpx.Headers, method: str = "POST", *, stream: bool = False
    ) -> httpx.Response:
        """Send and return as soon as the status line and headers are in; the body is the caller's to read."""
        # `stream=` rather than `content=`: httpx then skips re-encoding the body and rebuilding the headers
        # (16 us of 18 per request here); the transport writes Host and Content-Length itself.
        timeout = self._stream_timeout if stream else self._timeout
        request = httpx.Request(
            method, _url(url), headers=headers, stream=httpx.ByteStream(body), extensions={"timeout": timeout}
        )
        try:
            return await self._transport.handle_async_request(request)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc

    async def read(self, response: httpx.Response) -> UpstreamReply:
        try:
            body = b"".join([chunk async for chunk in raw_chunks(response)])
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()
        return UpstreamReply(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self._transport.aclose()


def raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as the socket delivers it: the transport's own stream (already decoded), without httpx's
    per-chunk layers. Responses always come from an async transport, so the stream is an async one."""
    return cast(httpx.AsyncByteStream, response.stream).__aiter__()


def transport_error(exc: httpx.TransportError) -> ProxyError:
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout(f"Could not connect to the Workers AI upstream in time ({detail})", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"The Workers AI upstream did not answer in time ({detail})")
    return UpstreamUnreachable(f"Could not reach the Workers AI upstream ({detail})")


@lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)
