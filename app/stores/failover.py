"""Redis down: the embedded counters take over (fail open: requests keep being served, a replica then counts alone)
with a warning at most every 30 seconds, unless PROXY_REDIS_REQUIRED (fail closed: 503 until Redis is back)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError

from app.errors import Unavailable
from app.stores.quotas import Ask, QuotaStore, Verdict
from app.stores.responses import ResponseStore, StoredResponse

log = logging.getLogger("workers_ai_proxy")
WARN_EVERY = 30.0


class _Failover:
    __slots__ = ("_clock", "_required", "_warned", "_what")

    def __init__(self, what: str, required: bool, clock: Callable[[], float]) -> None:
        self._what, self._required, self._clock = what, required, clock
        self._warned = float("-inf")

    def _failed(self, exc: Exception, refuse: bool = True) -> None:
        if self._required and refuse:
            raise Unavailable(
                f"{self._what.capitalize()} cannot be reached: Redis is unreachable (PROXY_REDIS_REQUIRED).",
                code="state_unavailable",
                headers={"Retry-After": "5"},
            )
        now = self._clock()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            log.warning("Redis is unreachable (%s): %s are this replica's own", type(exc).__name__, self._what)


class FailoverQuotas(_Failover):
    __slots__ = ("_fallback", "_primary")

    def __init__(self, primary: QuotaStore, fallback: QuotaStore, required: bool, clock: Callable[[], float]) -> None:
        super().__init__("limits and budgets", required, clock)
        self._primary, self._fallback = primary, fallback

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


class FailoverResponses(_Failover):
    __slots__ = ("_fallback", "_primary")

    def __init__(
        self, primary: ResponseStore, fallback: ResponseStore, required: bool, clock: Callable[[], float]
    ) -> None:
        super().__init__("stored responses", required, clock)
        self._primary, self._fallback = primary, fallback

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        try:
            return await self._primary.get(response_id, owner)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._fallback.get(response_id, owner)

    async def put(self, stored: StoredResponse) -> None:
        try:
            await self._primary.put(stored)
        except (RedisError, OSError) as exc:
            self._failed(exc, refuse=False)  # the answer is given already: keep it here
            await self._fallback.put(stored)

    async def delete(self, response_id: str, owner: str) -> bool:
        try:
            return await self._primary.delete(response_id, owner)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._fallback.delete(response_id, owner)
