"""The process-wide upstream client: httpx's Request/Response API over the aiohttp-backed transport.

`post` hands the request straight to the transport. httpx's `AsyncClient.send` would add its auth, redirect,
cookie and event-hook machinery (~140 us per request measured here), none of which an upstream call uses.
"""

from __future__ import annotations

from functools import lru_cache

import httpx

from app.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable

WRITE_TIMEOUT = 30.0


class UpstreamClient:
    def __init__(self, transport: httpx.AsyncBaseTransport, connect_timeout: float, read_timeout: float) -> None:
        """`read_timeout` bounds the wait for the first byte and, for now, every gap between stream chunks."""
        self._transport = transport
        self._timeout = {"connect": connect_timeout, "read": read_timeout, "write": WRITE_TIMEOUT, "pool": None}

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, stream: bool) -> httpx.Response:
        """POST and return the response; with `stream` the body is left unread for the caller to relay."""
        request = httpx.Request("POST", _url(url), content=body, headers=headers, extensions={"timeout": self._timeout})
        try:
            response = await self._transport.handle_async_request(request)
            if not stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def transport_error(exc: httpx.TransportError) -> ProxyError:
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"The Workers AI upstream did not answer in time ({detail})")
    return UpstreamUnreachable(f"Could not reach the Workers AI upstream ({detail})")


@lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)
