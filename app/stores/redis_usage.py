"""The usage ledger's totals on Redis, one ledger for every replica: each batch of settled rows is summed per minute,
key, model and endpoint and added in one pipeline to one hash per UTC day (`{wap}:u:2026-11-29`, kept
RETENTION_DAYS; the days are listed in a set). Totals read the days a period spans, at a minute's resolution. The
rows themselves (request ids, routes, outcomes) stay in each replica's own SQLite file."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis

from app.stores.usage import Spent, UsageRow

PREFIX = "{wap}:u:"
DAYS = "{wap}:u-days"  # the days that have a hash, so that any period reads only those
RETENTION_DAYS = 400
SEP = "\x1f"
INTEGERS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "errors")
METRICS = (*INTEGERS, "neurons")
Group = tuple[int, str, str, str]  # minute (Unix minutes), key, model, endpoint


class RedisUsageStore:
    __slots__ = ("_redis",)

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def record(self, rows: list[UsageRow]) -> None:
        sums: dict[tuple[str, Group], list[float]] = defaultdict(lambda: [0.0] * len(METRICS))
        for row in rows:
            model = row.model_served or row.model_asked or ""
            group = (int(row.at // 60), _clean(row.key), _clean(model), _clean(row.endpoint))
            total = sums[(row.day, group)]
            for i, amount in enumerate(
                (
                    1,
                    row.input_tokens,
                    row.output_tokens,
                    row.cached_tokens,
                    row.reasoning_tokens,
                    row.outcome != "completed",
                    row.neurons,
                )
            ):
                total[i] += amount
        async with self._redis.pipeline(transaction=False) as pipe:
            days = {day for day, _ in sums}
            if days:
                pipe.sadd(DAYS, *days)
            for day in days:
                pipe.expire(PREFIX + day, RETENTION_DAYS * 86_400)
            for (day, group), total in sums.items():
                stem = SEP.join(map(str, group)) + SEP
                for metric, amount in zip(METRICS, total, strict=True):
                    if not amount:
                        continue
                    if metric == "neurons":
                        pipe.hincrbyfloat(PREFIX + day, stem + metric, amount)
                    else:
                        pipe.hincrby(PREFIX + day, stem + metric, int(amount))
            await pipe.execute()

    async def totals(self, start: float, end: float, group_by: tuple[str, ...]) -> list[dict[str, Any]]:
        first, last = math.floor(start / 60), math.ceil(end / 60)  # minutes [first, last)
        out: dict[tuple[str, ...], dict[str, float]] = {}
        for day, fields in await self._days(start, end):
            for field, value in fields.items():
                minute, key, model, endpoint, metric = _text(field).split(SEP)
                if not first <= int(minute) < last:
                    continue
                values = {"key": key, "model": model, "day": day, "endpoint": endpoint}
                group = tuple(values[g] for g in group_by)
                totals = out.setdefault(group, dict.fromkeys(METRICS, 0.0))
                totals[metric] += float(value)
        rows = []
        for group in sorted(out):
            totals = out[group]
            if not totals["requests"]:
                continue
            shown: dict[str, Any] = {metric: int(totals[metric]) for metric in INTEGERS}
            shown["neurons"] = round(totals["neurons"], 3)
            rows.append({**dict(zip(group_by, group, strict=True)), **shown})
        return rows

    async def spent(self, key: str | None, since: float) -> Spent:
        """Since a moment, for a budget's period (a month at most)."""
        found = Spent(0.0, 0)
        for row in await self.totals(since, since + 32 * 86_400, ("key",)):
            if key is None or row["key"] == key:
                found = Spent(found.neurons + row["neurons"], found.tokens + row["input_tokens"] + row["output_tokens"])
        return found

    async def _days(self, start: float, end: float) -> list[tuple[str, dict[bytes, bytes]]]:
        """The hashes of the days [start, end) spans that hold anything."""
        first, last = time.strftime("%Y-%m-%d", time.gmtime(start)), time.strftime("%Y-%m-%d", time.gmtime(end))
        listed = await self._redis.smembers(DAYS)
        days = sorted(d for d in (_text(day) for day in listed) if first <= d <= last)
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(PREFIX + day)
            found = await pipe.execute()
        return [(day, fields) for day, fields in zip(days, found, strict=True) if fields]


def _clean(text: str) -> str:
    return text.replace(SEP, " ")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
