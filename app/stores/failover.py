"""Redis down: the embedded counters take over (fail open: requests keep being served, a replica then counts alone)
with a warning at most every 30 seconds, unless PROXY_REDIS_REQUIRED (fail closed: 503 until Redis is back)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from redis.exceptions import RedisError

from app.errors import Unavailable
from app.stores.keys import KeyRecord, KeyStore
from app.stores.quotas import Ask, QuotaStore, Verdict
from app.stores.responses import ResponseStore, StoredResponse
from app.stores.usage import Spent, UsageRow, UsageStore

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
                f"{self._what.capitalize()} cannot be reached: Redis is unreachable.",
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


class FailoverKeys(_Failover):
    """Named keys have no second home: Redis down, making, revoking and listing keys are a 503, and the guard keeps
    the keys it last read (app/policies/named_keys.py)."""

    __slots__ = ("_primary",)

    def __init__(self, primary: KeyStore, clock: Callable[[], float]) -> None:
        super().__init__("named keys", True, clock)
        self._primary = primary

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            self._failed(exc)  # raises Unavailable
            raise

    async def create(self, record: KeyRecord) -> None:
        with self._unavailable():
            await self._primary.create(record)

    async def by_hash(self, digest: str) -> KeyRecord | None:
        with self._unavailable():
            return await self._primary.by_hash(digest)

    async def all(self) -> list[KeyRecord]:
        with self._unavailable():
            return await self._primary.all()

    async def revoke(self, name: str) -> bool:
        with self._unavailable():
            return await self._primary.revoke(name)

    async def version(self) -> int:
        with self._unavailable():
            return await self._primary.version()


class SharedUsage(_Failover):
    """The ledger with Redis: every row is kept in this replica's SQLite file (the detail: request ids, routes,
    outcomes) and summed into Redis (the totals every replica reads). Redis down: the rows stay local (missing from
    the shared totals, with a warning), and totals are this replica's own unless PROXY_REDIS_REQUIRED (503)."""

    __slots__ = ("_local", "_shared")

    def __init__(self, shared: UsageStore, local: UsageStore, required: bool, clock: Callable[[], float]) -> None:
        super().__init__("usage totals", required, clock)
        self._shared, self._local = shared, local

    async def record(self, rows: list[UsageRow]) -> None:
        await self._local.record(rows)
        try:
            await self._shared.record(rows)
        except (RedisError, OSError) as exc:
            self._failed(exc, refuse=False)

    async def totals(self, start: float, end: float, group_by: tuple[str, ...]) -> list[dict[str, Any]]:
        try:
            return await self._shared.totals(start, end, group_by)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._local.totals(start, end, group_by)

    async def spent(self, key: str | None, since: float) -> Spent:
        try:
            return await self._shared.spent(key, since)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._local.spent(key, since)
