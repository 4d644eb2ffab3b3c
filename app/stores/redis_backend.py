"""The shared backend, put together: a Redis client and the stores on it, each falling back to the embedded one."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from app.settings import Settings
from app.stores.failover import FailoverQuotas, FailoverResponses
from app.stores.quotas import QuotaStore
from app.stores.redis_quotas import RedisQuotas
from app.stores.redis_responses import RedisResponseStore
from app.stores.responses import ResponseStore


@dataclass(frozen=True, slots=True)
class Shared:
    redis: Redis
    quotas: QuotaStore
    responses: ResponseStore
    counters: RedisQuotas  # its pending adjustments are sent before the client closes

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # Redis gone at shutdown: nothing left to save
            await self.counters.flush()
        await self.redis.aclose()


def connect(url: str, quotas: QuotaStore, responses: ResponseStore, settings: Settings) -> Shared:
    """`quotas`, `responses`: the embedded stores, for when Redis cannot be reached."""
    redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    required = settings.proxy_redis_required
    counters = RedisQuotas(redis)
    return Shared(
        redis,
        FailoverQuotas(counters, quotas, required, time.monotonic),
        FailoverResponses(RedisResponseStore(redis, settings.proxy_responses_ttl), responses, required, time.monotonic),
        counters,
    )
