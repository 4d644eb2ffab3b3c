"""At most N upstream requests in flight; beyond that, wait a bounded time for a slot, then a 503."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from app.errors import Unavailable


class Overloaded(Unavailable):
    default_code = "overloaded"


class Slot:
    """One in-flight upstream request; released exactly once, however many times release() is called."""

    __slots__ = ("_limit", "_released", "waited")

    def __init__(self, limit: ConcurrencyLimit, *, waited: bool = False) -> None:
        self._limit = limit
        self._released = False
        self.waited = waited  # it was queued for: the client may have left meanwhile

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limit._release()


class Lease(Protocol):
    waited: bool  # it was queued for: the client may have left meanwhile

    def release(self) -> None: ...


class Gate(Protocol):
    """What an upstream call asks of the concurrency limit (a shared one can stand in)."""

    async def acquire(self) -> Lease: ...


class ConcurrencyLimit:
    """The in-process Gate: a counter and a queue of waiters."""

    def __init__(self, capacity: int, queue_timeout: float) -> None:
        self._free = capacity
        self._queue_timeout = queue_timeout
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> Slot:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return Slot(self)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self._queue_timeout)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return Slot(self, waited=True)  # granted just as the wait ran out
            waiter.cancel()
            raise Overloaded(
                "The proxy is at its limit of upstream requests (PROXY_MAX_CONCURRENCY); try again shortly.",
                headers={"Retry-After": "1"},
            ) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted, but the requester is gone: pass it on
            waiter.cancel()
            raise
        return Slot(self, waited=True)

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves straight to the next waiter
                return
        self._free += 1
