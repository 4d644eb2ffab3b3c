"""Counters with limits, for rate limits and budgets: several are checked and taken in one step, all or none (one
round trip on a shared backend), and adjusted when the request settles. `MemoryQuotas` is the embedded backend:
one process, whose event loop makes each step atomic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class Ask(NamedTuple):  # a tuple: a request makes several, and a tuple is the cheapest to make
    counter: str  # e.g. "rl:team-a:r:29999" (requests of team-a in minute 29999)
    amount: float
    limit: float
    ttl: int  # seconds the counter must outlive its period by at least
    seed: float = 0.0  # what a counter that does not exist yet starts from (a budget: what the ledger holds)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    used: tuple[float, ...]  # each counter after the step (refused: as it was)
    refused: int | None = None  # the first ask that would have gone over its limit


class QuotaStore(Protocol):
    async def reserve(self, asks: Sequence[Ask]) -> Verdict: ...

    async def adjust(self, changes: Sequence[tuple[str, float]]) -> None:
        """Add each amount (negative: give back) to its counter, never below zero."""
        ...


class MemoryQuotas:
    __slots__ = ("_clock", "_counters", "_next_sweep")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._counters: dict[str, list[float]] = {}  # counter -> [value, expires]
        self._clock = clock
        self._next_sweep = 0.0

    async def reserve(self, asks: Sequence[Ask]) -> Verdict:
        now = self._clock()
        if now >= self._next_sweep:  # drop expired counters, once a minute
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
            self._next_sweep = now + 60
        entries = []
        for ask in asks:
            entry = self._counters.get(ask.counter)
            if entry is None or entry[1] <= now:
                entry = self._counters[ask.counter] = [ask.seed, now + ask.ttl]
            entries.append(entry)
        for i, (ask, entry) in enumerate(zip(asks, entries, strict=True)):
            if entry[0] + ask.amount > ask.limit:
                return Verdict(False, tuple(e[0] for e in entries), i)
        for ask, entry in zip(asks, entries, strict=True):
            entry[0] += ask.amount
        return Verdict(True, tuple(e[0] for e in entries))

    async def adjust(self, changes: Sequence[tuple[str, float]]) -> None:
        for counter, amount in changes:
            entry = self._counters.get(counter)
            if entry is not None:
                entry[0] = max(0.0, entry[0] + amount)
