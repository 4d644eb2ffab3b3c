"""Quota counters on Redis, shared by every replica: each admission is one server-side script that reads and takes
every counter of the request in one step (all or none), one round trip; each counter carries its TTL; every key
name has the `{wap}` hash tag, so that one script's keys share a slot on Redis Cluster."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from app.stores.quotas import Ask, Verdict

log = logging.getLogger("workers_ai_proxy")
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
    """Adjustments (what settled requests give back or add) are summed per counter and sent together, at most
    `interval` seconds later, in one script call: the admission's is the only round trip on a request's path."""

    __slots__ = ("_adjust", "_interval", "_pending", "_redis", "_reserve", "_task")

    def __init__(self, redis: Redis, interval: float = 0.05) -> None:
        self._redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._adjust = redis.register_script(ADJUST)
        self._interval = interval
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def reserve(self, asks: Sequence[Ask]) -> Verdict:
        args: list[Any] = []
        for ask in asks:
            args += [repr(float(ask.amount)), repr(float(ask.limit)), ask.ttl, repr(float(ask.seed))]
        reply = await self._reserve(keys=[PREFIX + ask.counter for ask in asks], args=args)
        allowed, refused, *used = reply
        counts = tuple(float(value) for value in used)
        return Verdict(bool(allowed), counts, int(refused) - 1 if not allowed else None)

    async def adjust(self, changes: Sequence[tuple[str, float]]) -> None:
        for counter, amount in changes:
            self._pending[counter] = self._pending.get(counter, 0.0) + amount
        if self._pending and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send_soon())

    async def flush(self) -> None:
        """Send what is pending now (at shutdown, and in tests)."""
        pending, self._pending = self._pending, {}
        if pending:
            await self._adjust(keys=[PREFIX + c for c in pending], args=[repr(float(a)) for a in pending.values()])

    async def _send_soon(self) -> None:
        try:
            await asyncio.sleep(self._interval)
        finally:
            self._task = None
        try:
            await self.flush()
        except Exception as exc:  # Redis gone: those counters' windows end on their own; nothing else to do
            log.warning("Redis is unreachable (%s): counter adjustments were dropped", type(exc).__name__)
