"""The process-wide upstream HTTP client and the one function that sends through it.

httpx's API over an aiohttp connection pool (`httpx-aiohttp`): httpx's default transport costs several
times the CPU of a bare relay per request here and degrades as its pool grows.
"""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from app.errors import ProxyError, UpstreamTimeout, UpstreamUnreachable

WRITE_TIMEOUT = 30.0
MAX_CONNECTIONS = 1024


def create_http_client(connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    """Build the shared client; call inside the running event loop (the app's lifespan).

    `read_timeout` bounds the wait for the first byte and, for now, every gap between stream chunks.
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=60, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=None),
    )
    return httpx.AsyncClient(
        transport=AiohttpTransport(client=session),
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, write=WRITE_TIMEOUT, pool=None),
        follow_redirects=False,
    )


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *, stream: bool
) -> httpx.Response:
    """POST and return the response; with `stream` the body is left unread for the caller to relay."""
    request = client.build_request("POST", url, content=body, headers=headers)
    try:
        return await client.send(request, stream=stream)
    except httpx.TransportError as exc:
        raise transport_error(exc) from exc


def transport_error(exc: httpx.TransportError) -> ProxyError:
    """Name a transport failure by its root cause.

    httpx-aiohttp maps every aiohttp connection error to `httpx.ConnectTimeout`, so the aiohttp cause,
    not the httpx class, tells a timeout from a refused or dropped connection.
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    detail = f"{type(cause).__name__}: {cause}".rstrip(": ")
    if isinstance(cause, TimeoutError) or (cause is exc and isinstance(exc, httpx.TimeoutException)):
        return UpstreamTimeout(f"The Workers AI upstream did not answer in time ({detail})")
    return UpstreamUnreachable(f"Could not reach the Workers AI upstream ({detail})")
