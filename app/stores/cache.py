"""Where cached replies live: bytes under a key, each with its own time to live. `MemoryCache` is the embedded
backend: least recently used entries go first once the entries' bytes pass a bound (PROXY_CACHE_MAX_BYTES)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

ENTRY_OVERHEAD = 200  # bytes counted per entry beside its key and value (the dict slot, the tuple)


class CacheStore(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def put_many(self, entries: Sequence[tuple[str, bytes]], ttl: float) -> None: ...


class MemoryCache:
    __slots__ = ("_clock", "_entries", "_max_bytes", "_size")

    def __init__(self, max_bytes: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # oldest use first
        self._max_bytes, self._clock = max_bytes, clock
        self._size = 0

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        found: list[bytes | None] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                found.append(None)
            elif entry[1] <= now:
                self._drop(key)
                found.append(None)
            else:
                self._entries.move_to_end(key)
                found.append(entry[0])
        return found

    async def put_many(self, entries: Sequence[tuple[str, bytes]], ttl: float) -> None:
        expires = self._clock() + ttl
        for key, value in entries:
            self._insert(key, value, expires)
        self._shrink()

    def live(self) -> list[tuple[str, bytes, float]]:
        """Every entry still in force with the seconds it has left, least recently used first (to be saved)."""
        now = self._clock()
        return [(key, value, expires - now) for key, (value, expires) in self._entries.items() if expires > now]

    def restore(self, entries: list[tuple[str, bytes, float]]) -> None:
        """Entries saved by `live`, least recently used first; the bound applies as they are added."""
        now = self._clock()
        for key, value, left in entries:
            if left > 0:
                self._insert(key, value, now + left)
        self._shrink()

    def _insert(self, key: str, value: bytes, expires: float) -> None:
        if key in self._entries:
            self._drop(key)
        cost = _cost(key, value)
        if cost > self._max_bytes:
            return  # larger than the whole cache: never kept
        self._entries[key] = (value, expires)
        self._size += cost

    def _shrink(self) -> None:
        while self._size > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._size -= _cost(key, value)


def _cost(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD
