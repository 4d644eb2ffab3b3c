"""An httpx transport over one aiohttp connection pool, doing no more per request than the relay needs.

Why not `httpx_aiohttp.AiohttpTransport`: measured here it adds ~120 us per request over aiohttp itself
(URL re-parsing, a ClientTimeout and a header conversion per request, 16 KiB re-chunking of streams), and it
reports every aiohttp connection error as `httpx.ConnectTimeout`. This one caches parsed URLs and timeouts,
hands aiohttp plain header tuples, streams whatever each socket read delivers (still encoded: callers read
`response.stream` through `app.upstream.body`, which decompresses in bounded steps, instead of httpx's
per-chunk decoder layers), and maps aiohttp's exceptions to the httpx classes that say what happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache

import aiohttp
import httpx
import yarl

# aiohttp writes these itself from the URL and the body
SKIPPED_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})
HTTP11 = {"http_version": b"HTTP/1.1"}
MAX_CONNECTIONS = 1024
KEEPALIVE_SECONDS = 60


@contextmanager
def httpx_errors() -> Iterator[None]:
    """aiohttp exceptions -> the httpx exception class for the same failure (cause chained)."""
    try:
        yield
    except httpx.HTTPError:
        raise
    except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
        # aiohttp raises one module-level ClientConnectionError instance for every read of a released
        # response (a stream our watchdog closed). Python prepends to an exception's traceback each time
        # it is raised, so unless cleared that one instance keeps every such stream's frames alive.
        exc.__traceback__ = None
        raise _as_httpx(exc) from exc


def _as_httpx(exc: BaseException) -> httpx.TransportError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc) or "connect timeout")
    if isinstance(exc, TimeoutError):  # ServerTimeoutError and SocketTimeoutError are TimeoutErrors too
        return httpx.ReadTimeout(str(exc) or "read timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc) or type(exc).__name__)
    return httpx.ReadError(str(exc) or type(exc).__name__)


class AiohttpStream(httpx.AsyncByteStream):
    __slots__ = ("_response", "content_encoding", "content_length")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        # read here from aiohttp's headers (C lookups), not from httpx's (which decodes them all on first use)
        self.content_encoding: str = response.headers.get("Content-Encoding", "")
        self.content_length: int | None = response.content_length

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A finished body returns its connection to the pool; an unfinished one closes it, which is how
        # the upstream learns that the client went away.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    @classmethod
    def create(cls) -> AiohttpTransport:
        """The shared pool; call inside the running event loop (the app's lifespan)."""
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS, ttl_dns_cache=300
            ),
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,  # bodies are decoded by the reader, in bounded steps (app.upstream.body)
            # trust_env would re-read proxy variables and ~/.netrc on every request (10% of the CPU measured)
            trust_env=False,
        )
        return cls(session)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() not in SKIPPED_HEADERS
        ]
        extra = request.extensions.get("extra_headers")  # this request's own (UpstreamClient.open)
        if extra:
            headers.extend(extra)
        body: bytes | httpx.AsyncByteStream
        if isinstance(request.stream, httpx.ByteStream):
            body = b"".join(request.stream)  # bytes given as a stream: a single piece, so the join copies nothing
        else:
            try:
                body = request.content
            except httpx.RequestNotRead:
                body = request.stream  # type: ignore[assignment]  # aiohttp accepts async iterables of bytes
        with httpx_errors():
            response = await self._session.request(
                request.method,
                _aiohttp_url(str(request.url)),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_aiohttp_timeout(_timeout_key(request)),
            )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=AiohttpStream(response),
            request=request,
            extensions=HTTP11,
        )

    async def aclose(self) -> None:
        await self._session.close()


def _timeout_key(request: httpx.Request) -> tuple[float | None, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("connect"), timeout.get("read")


@lru_cache(maxsize=64)
def _aiohttp_timeout(key: tuple[float | None, float | None]) -> aiohttp.ClientTimeout:
    connect, read = key
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


@lru_cache(maxsize=4096)
def _aiohttp_url(url: str) -> yarl.URL:
    # httpx already percent-encoded the URL; do not let yarl requote `@cf/...` paths
    return yarl.URL(url, encoded=True)
