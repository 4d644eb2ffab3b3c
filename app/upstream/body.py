"""Upstream bodies, read without trusting them: decompressed here, in bounded steps, with the ratio capped.

The transport hands over the bytes as they came off the wire. The proxy asks for `gzip, deflate` only and
decodes those itself: a decompressor that inflates a whole network read at once lets a 1 MB gzip bomb
produce a gigabyte in one call, blocking the event loop for every other request. Here each step yields at
most `STEP` bytes, the loop gets a turn before the next step of the same read, and a body that grows more
than `MAX_RATIO` times its compressed size (past `RATIO_FLOOR`) is refused. Caps on the decoded size are the
callers' (a whole reply: `UpstreamClient.read`; a stream event: `SSEDecoder`).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from typing import cast

import httpx

from app.errors import UpstreamError

ACCEPT_ENCODING = "gzip, deflate"
STEP = 256 * 1024
RATIO_FLOOR = 1024 * 1024
MAX_RATIO = 200
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class UnusableBody(UpstreamError):
    """An upstream body the proxy will not read further: too large, a bomb, or undecodable. Asking again
    would get the same, so it is never retried."""

    retryable_by_default = False


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body, decoded, in the pieces it arrives in (identity bodies pass through untouched)."""
    raw = cast(httpx.AsyncByteStream, response.stream).__aiter__()
    encoding = content_encoding(response)
    if not encoding or encoding == "identity":
        return raw
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise UnusableBody(f"Workers AI answered in a content encoding the proxy did not ask for ({encoding[:40]}).")
    return _inflate(raw, wbits, deflate=encoding == "deflate")


def content_encoding(response: httpx.Response) -> str:
    """Our transport's stream knows it already (httpx's headers decode every header on first use)."""
    known: str | None = getattr(response.stream, "content_encoding", None)
    value = known if known is not None else response.headers.get("content-encoding", "")
    return value.strip().lower() if value else ""


def content_length(response: httpx.Response) -> int | None:
    known: int | None = getattr(response.stream, "content_length", -1)
    if known is None or known >= 0:
        return known
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


async def _inflate(raw: AsyncIterator[bytes], wbits: int, *, deflate: bool) -> AsyncIterator[bytes]:
    decoder = zlib.decompressobj(wbits)
    taken = produced = 0
    async for chunk in raw:
        if deflate and taken == 0 and chunk and not _zlib_header(chunk):
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, as some servers do
        taken += len(chunk)
        pending = chunk
        while True:
            try:
                out = decoder.decompress(pending, STEP)
            except zlib.error:
                raise UnusableBody("Workers AI sent a compressed reply that does not decompress.") from None
            pending = decoder.unconsumed_tail
            produced += len(out)
            if produced > RATIO_FLOOR and produced > MAX_RATIO * taken:
                raise UnusableBody(
                    f"Workers AI sent a reply that decompresses to more than {MAX_RATIO} times its size."
                )
            if out:
                yield out
            if not pending and len(out) < STEP:
                break
            await asyncio.sleep(0)  # more of this read to inflate: let other requests run first
    rest = decoder.flush()
    if rest:
        yield rest


def _zlib_header(chunk: bytes) -> bool:
    return len(chunk) < 2 or (chunk[0] & 0x0F == 8 and (chunk[0] << 8 | chunk[1]) % 31 == 0)
