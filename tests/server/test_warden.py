"""The connection warden's decisions, on a fake clock with fake connections."""

from __future__ import annotations

from app.server.limits import ConnectionLimits
from app.server.warden import ConnectionWarden, Phase


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Connection:
    def __init__(self, name: str, phase: Phase, since: float) -> None:
        self.name, self.phase, self.since = name, phase, since
        self.fate: str | None = None

    def expire(self) -> None:
        self.fate = "expired"

    def evict(self) -> None:
        self.fate = "evicted"

    def turn_away(self) -> None:
        self.fate = "turned away"


def warden(clock: Clock, max_connections: int = 100) -> ConnectionWarden:
    limits = ConnectionLimits(65536, 8192, header_timeout=10, body_timeout=60, max_connections=max_connections)
    return ConnectionWarden(limits, clock)


def test_heads_and_bodies_past_their_deadlines_expire() -> None:
    clock = Clock()
    guard = warden(clock)
    head = Connection("head", Phase.HEAD, since=100)
    body = Connection("body", Phase.BODY, since=100)
    busy = Connection("busy", Phase.BUSY, since=0)
    idle = Connection("idle", Phase.IDLE, since=0)
    for connection in (head, body, busy, idle):
        guard.admit(connection)
    clock.now = 109.9
    guard.sweep()
    assert [c.fate for c in (head, body, busy, idle)] == [None, None, None, None]
    clock.now = 110
    guard.sweep()
    assert head.fate == "expired" and body.fate is None
    clock.now = 160
    guard.sweep()
    assert body.fate == "expired" and busy.fate is None and idle.fate is None  # keep-alive is uvicorn's


def test_room_is_made_from_idle_then_slow_heads_then_slow_bodies() -> None:
    clock = Clock()
    guard = warden(clock, max_connections=4)
    busy = Connection("busy", Phase.BUSY, since=1)
    body = Connection("body", Phase.BODY, since=2)
    old_head = Connection("old head", Phase.HEAD, since=3)
    idle = Connection("idle", Phase.IDLE, since=50)
    for connection in (busy, body, old_head, idle):
        guard.admit(connection)
    assert all(c.fate is None for c in (busy, body, old_head, idle))
    newcomers = [Connection(f"new {i}", Phase.HEAD, since=60 + i) for i in range(3)]
    guard.admit(newcomers[0])
    assert idle.fate == "evicted"
    guard.release(idle)
    guard.admit(newcomers[1])
    assert old_head.fate == "evicted"
    guard.release(old_head)
    guard.admit(newcomers[2])
    assert newcomers[0].fate == "evicted"  # the oldest of the heads still arriving, not the newest
    guard.release(newcomers[0])
    assert busy.fate is None and body.fate is None


def test_a_newcomer_is_turned_away_when_every_connection_is_being_answered() -> None:
    clock = Clock()
    guard = warden(clock, max_connections=2)
    answered = [Connection(f"busy {i}", Phase.BUSY, since=i) for i in range(2)]
    for connection in answered:
        guard.admit(connection)
    newcomer = Connection("new", Phase.HEAD, since=10)
    guard.admit(newcomer)
    assert newcomer.fate == "turned away" and all(c.fate is None for c in answered)
