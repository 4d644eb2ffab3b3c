"""Redis down: the embedded counters take over (fail open: requests keep being served, a replica then counts alone)
with a warning at most every 30 seconds, unless PROXY_REDIS_REQUIRED (fail closed: 503 until Redis is back)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError

from app.errors import Unavailable
from app.stores.quotas import Ask, QuotaStore, Verdict

log = logging.getLogger("workers_ai_proxy")
WARN_EVERY = 30.0


class FailoverQuotas:
    __slots__ = ("_clock", "_fallback", "_primary", "_required", "_warned")

    def __init__(self, primary: QuotaStore, fallback: QuotaStore, required: bool, clock: Callable[[], float]) -> None:
        self._primary, self._fallback, self._required, self._clock = primary, fallback, required, clock
        self._warned = float("-inf")

    async def reserve(self, asks: Sequence[Ask]) -> Verdict:
        try:
            return await self._primary.reserve(asks)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._fallback.reserve(asks)

    async def adjust(self, changes: Sequence[tuple[str, float]]) -> None:
        try:
            await self._primary.adjust(changes)
        except (RedisError, OSError) as exc:
            self._failed(exc, refuse=False)  # settling never fails a request
            await self._fallback.adjust(changes)

    def _failed(self, exc: Exception, refuse: bool = True) -> None:
        if self._required and refuse:
            raise Unavailable(
                "Rate limits and budgets cannot be checked: Redis is unreachable (PROXY_REDIS_REQUIRED).",
                code="state_unavailable",
                headers={"Retry-After": "5"},
            )
        now = self._clock()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning(
                "Redis is unreachable (%s): limits and budgets are counted by this replica alone", type(exc).__name__
            )
