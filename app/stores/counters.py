"""Per-minute counters for rate limits: requests and tokens of a key in a one-minute window, checked and taken in
one step. `MemoryCounters` is the embedded backend (one process: the event loop makes each step atomic)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Taken:
    allowed: bool
    requests: int  # used in the window, this request included when it was allowed
    tokens: int


class Counters(Protocol):
    async def take(self, key: str, window: int, requests: int, tokens: int, rpm: int | None, tpm: int | None) -> Taken:
        """Count `requests` and `tokens` in `window` for `key` if that keeps both within their limits (None: no
        limit); else count nothing. What is counted afterwards, either way."""
        ...

    async def give_back(self, key: str, window: int, tokens: int) -> None:
        """Tokens reserved in `window` and not used (negative: used beyond the reservation)."""
        ...


class MemoryCounters:
    __slots__ = ("_current", "_windows")

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], list[int]] = {}
        self._current = 0  # the newest window seen: older ones are dropped when it moves on

    async def take(self, key: str, window: int, requests: int, tokens: int, rpm: int | None, tpm: int | None) -> Taken:
        if window > self._current:
            self._windows = {k: v for k, v in self._windows.items() if k[1] >= window - 1}
            self._current = window
        counts = self._windows.setdefault((key, window), [0, 0])
        used_requests, used_tokens = counts[0] + requests, counts[1] + tokens
        if (rpm is not None and used_requests > rpm) or (tpm is not None and used_tokens > tpm):
            return Taken(False, counts[0], counts[1])
        counts[0], counts[1] = used_requests, used_tokens
        return Taken(True, used_requests, used_tokens)

    async def give_back(self, key: str, window: int, tokens: int) -> None:
        counts = self._windows.get((key, window))
        if counts is not None:
            counts[1] = max(0, counts[1] - tokens)
