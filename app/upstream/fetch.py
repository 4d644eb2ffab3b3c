"""Fetching images named by URL in a request, without letting a client reach what it should not.

Three checks, each covering what the one before may miss: the URL as the client will read it
(`app.upstream.addresses`: normalized host, IP literals in every spelling); every address a name resolves to;
and, last, the address each socket is about to connect to (the connector's socket factory sees IP literals
and resolved names alike, and no second DNS answer can slip in after the check). Redirects are followed by
hand, each hop checked again. Size (per image and for all images of a request), content type, encoding and
time are capped. Why a fetch was refused goes to the debug log; the client hears one message for every
refusal, so that answers cannot be used to map what is reachable from the proxy.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from app.upstream.addresses import AddressPolicy, IPAddress, NotAllowed, check_url, is_public, parse_address

log = logging.getLogger("workers_ai_proxy")
AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]  # as aiohappyeyeballs hands it to a socket factory
MAX_REDIRECTS = 3
ACCEPTED_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif")


class FetchRefused(Exception):
    """An image URL that was not fetched. The reason is for the log only."""


class BudgetExceeded(Exception):
    """The images of one request add up to more than the request may inline."""


@dataclass(frozen=True, slots=True)
class FetchedImage:
    content_type: str
    data: bytes


class ImageBudget:
    """Bytes all the images of one request may still take (fetched concurrently, from one budget)."""

    __slots__ = ("remaining",)

    def __init__(self, total: int) -> None:
        self.remaining = total

    def take(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise BudgetExceeded


class _CheckingResolver(AbstractResolver):
    def __init__(self, allowed: AddressPolicy) -> None:
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except OSError as exc:
            raise FetchRefused(f"{host} could not be resolved") from exc
        results: list[ResolveResult] = []
        for family_, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])
            parsed = parse_address(address)
            if parsed is None or not self._allowed(parsed):
                raise FetchRefused(f"{host} resolves to the non-public address {address}")
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": int(sockaddr[1]),
                    "family": family_,
                    "proto": proto,
                    "flags": 0,
                }
            )
        return results

    async def close(self) -> None:
        return None


def _checking_socket_factory(allowed: AddressPolicy) -> Callable[[AddrInfo], socket.socket]:
    """The connector's socket factory: the address connected to is the address checked."""

    def make(addr_info: AddrInfo) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = parse_address(str(sockaddr[0]))
        if address is None or not allowed(address):
            raise OSError(errno.EACCES, f"refused to connect to the non-public address {sockaddr[0]}")
        return socket.socket(family=family, type=kind, proto=proto)

    return make


def _anything(address: IPAddress) -> bool:
    return True


class ImageFetcher:
    def __init__(
        self, max_bytes: int, timeout: float, allow_private: bool = False, policy: AddressPolicy = is_public
    ) -> None:
        """`policy` says which addresses may be reached (tests inject one); `allow_private` lifts it."""
        self.max_bytes = max_bytes
        self._allowed = _anything if allow_private else policy
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                resolver=_CheckingResolver(self._allowed),
                limit=64,
                use_dns_cache=False,
                socket_factory=_checking_socket_factory(self._allowed),
            ),
            timeout=aiohttp.ClientTimeout(total=timeout),
            auto_decompress=False,  # images are compressed already; an encoded body is refused
            trust_env=False,
        )

    async def fetch(self, url: str, budget: ImageBudget | None = None) -> FetchedImage:
        try:
            return await self._fetch(url, budget)
        except FetchRefused as exc:
            log.debug("image URL refused: %s", exc)
            raise
        except NotAllowed as exc:
            log.debug("image URL refused: %s", exc)
            raise FetchRefused(str(exc)) from None
        except TimeoutError:
            log.debug("image URL refused: the fetch timed out")
            raise FetchRefused("timed out") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.debug("image URL refused: %s: %s", type(exc).__name__, exc)
            raise FetchRefused(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._session.close()

    async def _fetch(self, url: str, budget: ImageBudget | None) -> FetchedImage:
        target = check_url(url, self._allowed).url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"Accept": "image/*", "Accept-Encoding": "identity"}
            async with self._session.get(target, allow_redirects=False, headers=headers) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    target = check_url(str(target.join(yarl.URL(location))), self._allowed).url
                    continue
                return await self._read(response, budget)
        raise FetchRefused("too many redirects")

    async def _read(self, response: aiohttp.ClientResponse, budget: ImageBudget | None) -> FetchedImage:
        if response.status != 200:
            raise FetchRefused(f"HTTP {response.status}")
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type not in ACCEPTED_TYPES:
            raise FetchRefused(f"content type {content_type[:60] or '(none)'}")
        if response.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            raise FetchRefused("a content-encoded body")
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise FetchRefused(f"larger than {self.max_bytes} bytes")
        data = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            data += chunk
            if len(data) > self.max_bytes:
                raise FetchRefused(f"larger than {self.max_bytes} bytes")
            if budget is not None:
                budget.take(len(chunk))
        return FetchedImage("image/jpeg" if content_type == "image/jpg" else content_type, bytes(data))
