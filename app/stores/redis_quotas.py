"""Quota counters on Redis, shared by every replica: each admission is one server-side script that reads and takes
every counter of the request in one step (all or none), one round trip; each counter carries its TTL; every key
name has the `{wap}` hash tag, so that one script's keys share a slot on Redis Cluster."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from app.stores.quotas import Ask, Verdict

log = logging.getLogger("workers_ai_proxy")
PREFIX = "{wap}:q:"
# KEYS: the counters; ARGV[1]: amount, limit, ttl and seed of each, in turn, separated by spaces (one argument, not
# 4 per counter: redis-py's cost is mostly encoding arguments)
RESERVE = """
local n = #KEYS
local spec = {}
for v in string.gmatch(ARGV[1], '%S+') do spec[#spec + 1] = v end
local used = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  used[i] = tonumber(value or spec[(i - 1) * 4 + 4])
end
for i = 1, n do
  if used[i] + tonumber(spec[(i - 1) * 4 + 1]) > tonumber(spec[(i - 1) * 4 + 2]) then
    local out = {0, i}
    for j = 1, n do out[#out + 1] = tostring(used[j]) end
    return out
  end
end
local out = {1, 0}
for i = 1, n do
  local base = (i - 1) * 4
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('SET', KEYS[i], spec[base + 4], 'EX', spec[base + 3])
  end
  out[#out + 1] = redis.call('INCRBYFLOAT', KEYS[i], spec[base + 1])
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


def _spec(asks: Sequence[Ask]) -> str:
    return " ".join(f"{float(a.amount)!r} {float(a.limit)!r} {int(a.ttl)} {float(a.seed)!r}" for a in asks)


class RedisQuotas:
    """Admissions asked in the same turn of the event loop travel together in one pipeline (one write, one read,
    one connection for all of them: redis-py's cost per call is mostly its own bookkeeping), each still its own
    script. Adjustments (what settled requests give back or add) are summed per counter and sent together, at most
    `interval` seconds later, in one script call: the admission's is the only round trip on a request's path."""

    __slots__ = ("_adjust", "_batch", "_interval", "_pending", "_redis", "_reserve", "_sending", "_task")

    def __init__(self, redis: Redis, interval: float = 0.05) -> None:
        self._redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._adjust = redis.register_script(ADJUST)
        self._interval = interval
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._batch: list[tuple[Sequence[Ask], asyncio.Future[list[Any]]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def reserve(self, asks: Sequence[Ask]) -> Verdict:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._batch.append((asks, future))
        if len(self._batch) == 1:
            loop.call_soon(self._send_batch)  # after this turn: every admission asked in it goes along
        allowed, refused, *used = await future
        counts = tuple(float(value) for value in used)
        return Verdict(bool(allowed), counts, int(refused) - 1 if not allowed else None)

    def _send_batch(self) -> None:
        batch, self._batch = self._batch, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Sequence[Ask], asyncio.Future[list[Any]]]]) -> None:
        try:
            replies = await self._run(batch)
        except Exception as exc:
            replies = [exc] * len(batch)
        for (asks, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its request went away meanwhile: what it took is given back
                if not isinstance(reply, Exception) and reply[0]:
                    await self.adjust([(ask.counter, -float(ask.amount)) for ask in asks])
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _run(self, batch: list[tuple[Sequence[Ask], asyncio.Future[list[Any]]]]) -> list[Any]:
        replies = await self._evalsha(batch)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            await self._redis.script_load(RESERVE)  # a new or restarted Redis: the script is sent again
            replies = await self._evalsha(batch)
        return replies

    async def _evalsha(self, batch: list[tuple[Sequence[Ask], asyncio.Future[list[Any]]]]) -> list[Any]:
        commands = [[PREFIX + a.counter for a in asks] + [_spec(asks)] for asks, _ in batch]
        sha = self._reserve.sha
        if len(commands) == 1:  # alone: a plain call costs less than a pipeline of one
            try:
                return [await self._redis.evalsha(sha, len(batch[0][0]), *commands[0])]
            except NoScriptError as exc:
                return [exc]
        async with self._redis.pipeline(transaction=False) as pipe:
            for (asks, _), command in zip(batch, commands, strict=True):
                pipe.evalsha(sha, len(asks), *command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

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
