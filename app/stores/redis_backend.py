"""The shared backend, put together: a Redis client and the stores on it, each falling back to the embedded one."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from app.settings import Settings
from app.stores.cache import CacheStore
from app.stores.failover import FailoverKeys, FailoverQuotas, FailoverResponses, SharedUsage
from app.stores.keys import KeyStore
from app.stores.quotas import QuotaStore
from app.stores.redis_cache import RedisCache
from app.stores.redis_keys import RedisKeyStore
from app.stores.redis_quotas import RedisQuotas
from app.stores.redis_responses import RedisResponseStore
from app.stores.redis_usage import RedisUsageStore
from app.stores.responses import ResponseStore
from app.stores.usage import UsageStore


@dataclass(frozen=True, slots=True)
class Shared:
    redis: Redis
    quotas: QuotaStore
    responses: ResponseStore
    keys: KeyStore
    usage: UsageStore
    cache: CacheStore
    counters: RedisQuotas  # its pending adjustments are sent before the client closes

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # Redis gone at shutdown: nothing left to save
            await self.counters.flush()
        await self.redis.aclose()


def connect(url: str, quotas: QuotaStore, responses: ResponseStore, usage: UsageStore, settings: Settings) -> Shared:
    """`quotas`, `responses`, `usage`: the embedded stores, for when Redis cannot be reached (and the usage rows'
    local copy)."""
    redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    required = settings.proxy_redis_required
    counters = RedisQuotas(redis)
    return Shared(
        redis,
        FailoverQuotas(counters, quotas, required, time.monotonic),
        FailoverResponses(RedisResponseStore(redis, settings.proxy_responses_ttl), responses, required, time.monotonic),
        FailoverKeys(RedisKeyStore(redis), time.monotonic),
        SharedUsage(RedisUsageStore(redis), usage, required, time.monotonic),
        RedisCache(redis),  # unreachable: a miss and a warning (the cache never fails a request)
        counters,
    )


def key_store(url: str) -> tuple[Redis, KeyStore, UsageStore]:
    """For the `keys` command: the keys and the usage totals on Redis."""
    redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return redis, RedisKeyStore(redis), RedisUsageStore(redis)
