"""Quota counters on Redis, shared by every replica: each admission is one server-side script that reads and takes
every counter of the request in one step (all or none), one round trip; each counter carries its TTL; every key
name has the `{wap}` hash tag, so that one script's keys share a slot on Redis Cluster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from app.stores.quotas import Ask, Verdict

PREFIX = "{wap}:q:"
# KEYS: the counters; ARGV: amount, limit, ttl and seed of each, in turn
RESERVE = """
local n = #KEYS
local used = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  used[i] = tonumber(value or ARGV[(i - 1) * 4 + 4])
end
for i = 1, n do
  if used[i] + tonumber(ARGV[(i - 1) * 4 + 1]) > tonumber(ARGV[(i - 1) * 4 + 2]) then
    local out = {0, i}
    for j = 1, n do out[#out + 1] = tostring(used[j]) end
    return out
  end
end
local out = {1, 0}
for i = 1, n do
  local base = (i - 1) * 4
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('SET', KEYS[i], ARGV[base + 4], 'EX', ARGV[base + 3])
  end
  out[#out + 1] = redis.call('INCRBYFLOAT', KEYS[i], ARGV[base + 1])
end
return out
"""
# KEYS: counters; ARGV: the amount for each; a counter never goes below zero, one that has expired stays gone
ADJUST = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local after = tonumber(redis.call('INCRBYFLOAT', KEYS[i], ARGV[i]))
    if after < 0 then redis.call('SET', KEYS[i], '0', 'KEEPTTL') end
  end
end
return 1
"""


class RedisQuotas:
    __slots__ = ("_adjust", "_redis", "_reserve")

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._adjust = redis.register_script(ADJUST)

    async def reserve(self, asks: Sequence[Ask]) -> Verdict:
        args: list[Any] = []
        for ask in asks:
            args += [repr(float(ask.amount)), repr(float(ask.limit)), ask.ttl, repr(float(ask.seed))]
        reply = await self._reserve(keys=[PREFIX + ask.counter for ask in asks], args=args)
        allowed, refused, *used = reply
        counts = tuple(float(value) for value in used)
        return Verdict(bool(allowed), counts, int(refused) - 1 if not allowed else None)

    async def adjust(self, changes: Sequence[tuple[str, float]]) -> None:
        if changes:
            await self._adjust(
                keys=[PREFIX + counter for counter, _ in changes], args=[repr(float(a)) for _, a in changes]
            )
