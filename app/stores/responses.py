"""Stored Responses (`store: true`), for `previous_response_id` and `GET /v1/responses/{id}`.

`ResponseStore` is the interface; `MemoryResponseStore` keeps them in this process, bounded in number, bytes and
age (the oldest go first). Each is visible only to the identity that made it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]  # the `response` object as answered
    input_items: list[dict[str, Any]]  # this request's input, as items
    history: list[dict[str, Any]]  # the conversation before it (what `previous_response_id` carried in)
    owner: str  # the identity that made it
    size: int = 0  # bytes of its whole conversation as JSON, history included (it holds the history's items)

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """What a response continuing this one starts from: everything before, this input, this output."""
        return [*self.history, *self.input_items, *self.response.get("output", [])]


class ResponseStore(Protocol):
    async def get(self, response_id: str, owner: str) -> StoredResponse | None: ...

    async def put(self, stored: StoredResponse) -> None: ...

    async def delete(self, response_id: str, owner: str) -> bool: ...


class MemoryResponseStore:
    """At most `max_entries` holding at most `max_bytes` together, each for `ttl` seconds of `clock` (monotonic
    seconds). A response larger than `max_bytes` alone is not kept."""

    __slots__ = ("_bytes", "_clock", "_entries", "_max", "_max_bytes", "_ttl")

    def __init__(self, max_entries: int, max_bytes: int, ttl: float, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, tuple[float, StoredResponse]] = OrderedDict()
        self._max, self._max_bytes, self._ttl, self._clock = max_entries, max_bytes, ttl, clock
        self._bytes = 0

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        expires, stored = entry
        if expires <= self._clock():
            self._remove(response_id)
            return None
        return stored if stored.owner == owner else None

    async def put(self, stored: StoredResponse) -> None:
        if stored.size > self._max_bytes:
            return
        now = self._clock()
        response_id = stored.response["id"]
        self._remove(response_id)
        self._entries[response_id] = (now + self._ttl, stored)
        self._bytes += stored.size
        while self._entries:
            oldest, (expires, _) = next(iter(self._entries.items()))
            if len(self._entries) <= self._max and self._bytes <= self._max_bytes and expires > now:
                break
            self._remove(oldest)

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        self._remove(response_id)
        return True

    def _remove(self, response_id: str) -> None:
        entry = self._entries.pop(response_id, None)
        if entry is not None:
            self._bytes -= entry[1].size

    def __len__(self) -> int:
        return len(self._entries)
