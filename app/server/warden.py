"""Every client connection's phase, and what happens to connections that take too long or too much room.

    HEAD  --head complete-->  BODY  --body complete-->  BUSY  --response sent-->  IDLE  --next request-->  HEAD

A new connection starts in HEAD (a silent one is a head that never arrives). HEAD and BODY have deadlines
(`header_timeout`, `body_timeout`), checked by one sweep per server rather than a timer per request. BUSY
(the app is answering) has none: the app's own timeouts apply. IDLE is uvicorn's keep-alive.

When a new connection would pass `max_connections`, the least useful one makes room: the oldest IDLE, else
the oldest still sending its head, else the oldest still sending its body. Connections being answered are
never evicted; if every one is, the newcomer is turned away with a 503. Slow or silent clients therefore
cannot starve health checks and new clients of file descriptors.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import Protocol

from app.server.limits import ConnectionLimits

STATE_KEY = "connection_warden"  # where protocols find the warden: the app's lifespan state


class Phase(enum.IntEnum):
    HEAD = 0
    BODY = 1
    BUSY = 2
    IDLE = 3


EVICTION_ORDER = (Phase.IDLE, Phase.HEAD, Phase.BODY)


class Guarded(Protocol):
    phase: Phase
    since: float  # loop time the phase began

    def expire(self) -> None:
        """The phase's deadline passed: answer 408 if a request began, and close."""

    def evict(self) -> None:
        """Close to make room for a new connection."""

    def turn_away(self) -> None:
        """No room: answer 503 and close."""


class ConnectionWarden:
    def __init__(self, limits: ConnectionLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._connections: dict[Guarded, None] = {}  # insertion-ordered set
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = {Phase.HEAD: limits.header_timeout, Phase.BODY: limits.body_timeout}

    def __len__(self) -> int:
        return len(self._connections)

    @property
    def tick(self) -> float:
        """How often deadlines are checked: a quarter of the shorter one, between 50 ms and 1 s."""
        return max(0.05, min(1.0, self.limits.header_timeout / 4, self.limits.body_timeout / 4))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        def tick() -> None:
            self.sweep()
            self._timer = loop.call_later(self.tick, tick)

        self._timer = loop.call_later(self.tick, tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def admit(self, connection: Guarded) -> None:
        self._connections[connection] = None
        if len(self._connections) <= self.limits.max_connections:
            return
        victim = self._victim(spare=connection)
        if victim is None:
            connection.turn_away()
        else:
            victim.evict()

    def release(self, connection: Guarded) -> None:
        self._connections.pop(connection, None)

    def sweep(self) -> None:
        now = self.clock()
        expired = [
            connection
            for connection in self._connections
            if connection.phase in self._deadline and now - connection.since >= self._deadline[connection.phase]
        ]
        for connection in expired:
            connection.expire()

    def _victim(self, spare: Guarded) -> Guarded | None:
        for phase in EVICTION_ORDER:
            candidates = [c for c in self._connections if c is not spare and c.phase == phase]
            if candidates:
                return min(candidates, key=lambda connection: connection.since)
        return None
