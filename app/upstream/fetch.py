"""Fetching images named by URL in a request, without letting a client reach what it should not.

Only public addresses are fetched: every host is resolved first and refused if any of its addresses is
loopback, private, link-local (cloud metadata lives there), shared, reserved or multicast, and the
connection then goes to the checked address (a second, different DNS answer cannot slip in). Redirects are
followed by hand, each hop checked again. Size, content type and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

MAX_REDIRECTS = 3
ACCEPTED_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif")


class FetchRefused(Exception):
    """Why an image URL was not fetched, in words fit for the client."""


@dataclass(frozen=True, slots=True)
class FetchedImage:
    content_type: str
    data: bytes


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PublicOnlyResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except OSError as exc:
            raise FetchRefused(f"the host {host} could not be resolved") from exc
        results: list[ResolveResult] = []
        for family_, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])
            if not self._allow_private and not is_public(address):
                raise FetchRefused(f"the host {host} resolves to a non-public address")
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


class ImageFetcher:
    def __init__(self, max_bytes: int, timeout: float, allow_private: bool = False) -> None:
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=_PublicOnlyResolver(allow_private), limit=64, use_dns_cache=False),
            timeout=aiohttp.ClientTimeout(total=timeout),
            trust_env=False,
        )

    async def fetch(self, url: str) -> FetchedImage:
        for _ in range(MAX_REDIRECTS + 1):
            self._check_url(url)
            try:
                async with self._session.get(url, allow_redirects=False, headers={"Accept": "image/*"}) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    return await self._read(response)
            except FetchRefused:
                raise
            except TimeoutError as exc:
                raise FetchRefused("fetching it timed out") from exc
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                raise FetchRefused(f"it could not be fetched ({type(exc).__name__})") from exc
        raise FetchRefused("it redirects too many times")

    async def aclose(self) -> None:
        await self._session.close()

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused("only http and https URLs are fetched")
        if parts.username or parts.password:
            raise FetchRefused("URLs with credentials are not fetched")
        try:
            literal: Any = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked when it is resolved
        if not self._allow_private and not is_public(str(literal)):
            raise FetchRefused("it points at a non-public address")

    async def _read(self, response: aiohttp.ClientResponse) -> FetchedImage:
        if response.status != 200:
            raise FetchRefused(f"the server answered HTTP {response.status}")
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type not in ACCEPTED_TYPES:
            raise FetchRefused(f"its content type {content_type or '(none)'} is not a PNG, JPEG, WebP or GIF image")
        if response.content_length is not None and response.content_length > self._max_bytes:
            raise FetchRefused(f"it is larger than {self._max_bytes} bytes")
        data = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            data += chunk
            if len(data) > self._max_bytes:
                raise FetchRefused(f"it is larger than {self._max_bytes} bytes")
        return FetchedImage("image/jpeg" if content_type == "image/jpg" else content_type, bytes(data))
