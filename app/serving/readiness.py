"""GET /ready: whether this replica should get traffic. Ready when not draining and the account answers: the
catalogue page read with the server's token (which proves the token is accepted and may use Workers AI). The
look is cached for PROXY_READY_TTL seconds (a failure for a fifth of that), so probes cost no upstream call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.errors import ProxyError

ReadPage = Callable[[int], Awaitable[Any]]


class Readiness:
    def __init__(self, read_page: ReadPage | None, ttl: float, clock: Callable[[], float]) -> None:
        self._read_page = read_page  # None in pass-through mode: each client brings its own token
        self._ttl = ttl
        self._clock = clock
        self._checked: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def check(self, draining: bool) -> tuple[bool, dict[str, Any]]:
        if draining:
            return False, {"draining": True}
        async with self._lock:  # many probes at once: one upstream look
            now = self._clock()
            if self._checked is None or now >= self._checked[0]:
                result = await self._look()
                ttl = self._ttl if result.get("upstream") == "ok" else self._ttl / 5
                self._checked = (now + ttl, result)
            result = self._checked[1]
        return result.get("upstream") in ("ok", "pass-through"), result

    async def _look(self) -> dict[str, Any]:
        if self._read_page is None:
            return {"upstream": "pass-through", "detail": "clients bring their own Cloudflare token"}
        try:
            await self._read_page(1)
        except ProxyError as error:
            return {"upstream": "failed", "upstream_status": error.http_status, "detail": error.message}
        except Exception as error:  # a probe must answer, whatever went wrong
            return {"upstream": "failed", "detail": type(error).__name__}
        return {"upstream": "ok"}
