"""Stored Responses (`store: true`), for `previous_response_id` and `GET /v1/responses/{id}`.

`ResponseStore` is the interface; `MemoryResponseStore` keeps them in this process, bounded in number and age
(the oldest go first). Each is visible only to the identity that made it.
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

    @property
    def conversation(self) -> list[dict[str, Any]]:
        """What a response continuing this one starts from: everything before, this input, this output."""
        return [*self.history, *self.input_items, *self.response.get("output", [])]


class ResponseStore(Protocol):
    async def get(self, response_id: str, owner: str) -> StoredResponse | None: ...

    async def put(self, stored: StoredResponse) -> None: ...

    async def delete(self, response_id: str, owner: str) -> bool: ...


class MemoryResponseStore:
    """At most `max_entries`, each for `ttl` seconds of `clock` (monotonic seconds)."""

    __slots__ = ("_clock", "_entries", "_max", "_ttl")

    def __init__(self, max_entries: int, ttl: float, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, tuple[float, StoredResponse]] = OrderedDict()
        self._max, self._ttl, self._clock = max_entries, ttl, clock

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        expires, stored = entry
        if expires <= self._clock():
            del self._entries[response_id]
            return None
        return stored if stored.owner == owner else None

    async def put(self, stored: StoredResponse) -> None:
        now = self._clock()
        self._entries[stored.response["id"]] = (now + self._ttl, stored)
        self._entries.move_to_end(stored.response["id"])
        while self._entries:
            oldest, (expires, _) = next(iter(self._entries.items()))
            if len(self._entries) <= self._max and expires > now:
                break
            del self._entries[oldest]

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        del self._entries[response_id]
        return True

    def __len__(self) -> int:
        return len(self._entries)
