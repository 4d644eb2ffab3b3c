"""The shared backend, put together: a Redis client and the stores on it, each falling back to the embedded one."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.settings import Settings
from app.stores.failover import FailoverQuotas
from app.stores.quotas import QuotaStore
from app.stores.redis_quotas import RedisQuotas


def connect(url: str, embedded: QuotaStore, settings: Settings) -> tuple[Redis, QuotaStore]:
    redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    return redis, FailoverQuotas(RedisQuotas(redis), embedded, settings.proxy_redis_required, time.monotonic)
