"""Every request of every endpoint settles into the usage ledger, exactly once: who (the key's name), which model
(asked and served), which route, tokens (input, output, cached, reasoning), neurons at the model's rate, the
outcome. Rows are written in batches in the background (at most every `interval` seconds), so that settling a
request costs a list append; `flush` writes what is pending (before totals are read, and at shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

from app.exchange import Exchange
from app.models.prices import Rate, cost_of
from app.stores.usage import UsageRow, UsageStore

log = logging.getLogger("workers_ai_proxy")


class UsageLedger:
    """A settlement hook."""

    __slots__ = ("_interval", "_pending", "_rate", "_sleeping", "_store", "_task", "_wall")

    def __init__(
        self, store: UsageStore, rate: Callable[[str], Rate], wall: Callable[[], float], interval: float = 0.5
    ) -> None:
        self._store, self._rate, self._wall, self._interval = store, rate, wall, interval
        self._pending: list[UsageRow] = []
        self._task: asyncio.Task[None] | None = None
        self._sleeping = False  # the writer waits for more rows (and may be woken to write now)

    async def settle(self, exchange: Exchange) -> None:
        self._pending.append(self.row(exchange))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._write_soon())

    def row(self, exchange: Exchange) -> UsageRow:
        usage = exchange.usage
        served = exchange.model_served
        hit = exchange.cache == "hit"
        at = self._wall()
        prompt = completion = cached = reasoning = 0
        if usage is not None:
            prompt, completion = usage["prompt_tokens"], usage.get("completion_tokens", 0)
            cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
            reasoning = usage.get("completion_tokens_details", {}).get("reasoning_tokens", 0)
        return UsageRow(
            at=at,
            day=_day(at),
            key=exchange.identity.name if exchange.identity is not None else "anonymous",
            endpoint=exchange.endpoint,
            model_asked=exchange.model_asked,
            model_served=served,
            route=exchange.route.upstream if exchange.route is not None else None,
            input_tokens=prompt,
            output_tokens=completion,
            cached_tokens=cached,
            reasoning_tokens=reasoning,
            # Workers AI counts no embedding tokens (the proxy estimates them); a request cut short has a partial count
            measured=usage is not None and exchange.outcome == "completed" and exchange.endpoint != "embeddings",
            # a reply from the cache cost Workers AI nothing
            neurons=0.0 if hit or served is None else cost_of(self._rate(served), usage, exchange.neurons),
            outcome=exchange.outcome,
            status=exchange.status,
            cache_hit=hit,
            request_id=exchange.request_id,
        )

    async def flush(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            try:
                await self._store.record(rows)
            except Exception:  # the ledger must never fail a request; the rows are reported lost
                log.exception("%d usage rows could not be written", len(rows))

    async def close(self) -> None:
        task = self._task
        if task is not None:
            if self._sleeping:
                task.cancel()  # wakes it: it writes at once
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _write_soon(self) -> None:
        self._sleeping = True
        try:
            await asyncio.sleep(self._interval)
        except asyncio.CancelledError:
            pass  # closing: write now
        finally:
            self._sleeping = False
            self._task = None
        await self.flush()


@functools.lru_cache(maxsize=4)
def _day_of(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86_400))


def _day(at: float) -> str:
    """The UTC date, made once a day."""
    return _day_of(int(at // 86_400))
