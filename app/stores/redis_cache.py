"""The reply cache on Redis, shared by every replica: one string per entry with its TTL (`SET ... EX`), read
several at a time with one MGET (an embeddings batch's inputs), written in one pipeline; Redis's own memory limit
and eviction policy bound it (PROXY_CACHE_MAX_BYTES is the embedded cache's)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from redis.asyncio import Redis

PREFIX = "{wap}:c:"


class RedisCache:
    __slots__ = ("_redis",)

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        found = await self._redis.mget([PREFIX + key for key in keys])
        return [value.encode() if isinstance(value, str) else value for value in found]

    async def put_many(self, entries: Sequence[tuple[str, bytes]], ttl: float) -> None:
        if not entries:
            return
        seconds = max(1, math.ceil(ttl))
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, value in entries:
                pipe.set(PREFIX + key, value, ex=seconds)
            await pipe.execute()
