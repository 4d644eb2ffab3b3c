"""The proxy paces its own traffic to Workers AI under each model's published requests per minute (or the rpm a
model's `[models."..."]` entry sets), counted in one-minute windows on the quota store (so replicas on Redis share
one count). A call over the pace waits for the next window when that is within PROXY_QUEUE_TIMEOUT, instead of
collecting a 429 from Cloudflare; beyond that it is a 429 `upstream_paced` with Retry-After, before any upstream
call. Every attempt is paced: retries and fallbacks are upstream requests too."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from app.errors import RateLimited
from app.stores.quotas import Ask, QuotaStore

WINDOW_SECONDS = 60


class Pacer:
    __slots__ = ("_limit", "_max_wait", "_sleep", "_store", "_wall")

    def __init__(
        self,
        store: QuotaStore,
        limit: Callable[[str], int | None],
        max_wait: float,
        wall: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`limit`: a model's requests per minute (None: not paced)."""
        self._store, self._limit, self._max_wait, self._wall, self._sleep = store, limit, max_wait, wall, sleep

    async def pace(self, model_id: str) -> None:
        rpm = self._limit(model_id)
        if rpm is None:
            return
        waited = 0.0
        while True:
            now = self._wall()
            window = int(now // WINDOW_SECONDS)
            verdict = await self._store.reserve([Ask(f"pace:{model_id}:{window}", 1, rpm, 2 * WINDOW_SECONDS)])
            if verdict.allowed:
                return
            wait = (window + 1) * WINDOW_SECONDS - now
            if waited + wait > self._max_wait:
                raise RateLimited(
                    f"Workers AI takes {rpm} requests a minute for {model_id}; this proxy has sent that many this "
                    "minute and its queue would wait longer than PROXY_QUEUE_TIMEOUT.",
                    code="upstream_paced",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            await self._sleep(wait)
            waited += wait
