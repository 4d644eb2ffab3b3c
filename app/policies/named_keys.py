"""The named keys the guard accepts, held in memory: the whole set is read again from the key store when its
version moves (checked at most once a second), so a key made or revoked by the `keys` command or on another
replica takes effect within a second, and a request costs one SHA-256 and one dictionary lookup. The store
unreachable (Redis down): the keys last read hold; never read yet: 503, since whether a key is needed is unknown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.errors import Unavailable
from app.stores.keys import KeyRecord, KeyStore, key_hash

log = logging.getLogger("workers_ai_proxy")
RECHECK_SECONDS = 1.0


class NamedKeys:
    __slots__ = ("_active", "_checked", "_clock", "_lock", "_records", "_store", "_version")

    def __init__(self, store: KeyStore, clock: Callable[[], float]) -> None:
        self._store, self._clock = store, clock
        self._records: dict[str, KeyRecord] = {}
        self._active = False  # some key is not revoked
        self._version: int | None = None
        self._checked = float("-inf")
        self._lock = asyncio.Lock()  # one look at a time; requests meanwhile wait for it, not for stale keys

    def changed(self) -> None:
        """The keys changed here (the admin API): the next request reads them again, not up to a second later."""
        self._checked = float("-inf")

    async def find(self, presented: str) -> KeyRecord | None:
        await self._refresh()
        return self._records.get(key_hash(presented))

    async def any(self) -> bool:
        """Whether any key is in force (one that is not revoked): then every request needs a key."""
        await self._refresh()
        return self._active

    async def _refresh(self) -> None:
        if self._clock() - self._checked < RECHECK_SECONDS:
            return
        async with self._lock:
            if self._clock() - self._checked < RECHECK_SECONDS:
                return  # another request looked while this one waited
            try:
                version = await self._store.version()
                if version != self._version:
                    self._records = {record.key_hash: record for record in await self._store.all()}
                    self._active = any(not record.revoked for record in self._records.values())
                    self._version = version
            except Exception as exc:
                if self._version is None:  # never read: whether a key is needed at all is unknown
                    raise Unavailable(
                        "The named keys cannot be read (their store is unreachable); try again shortly.",
                        code="state_unavailable",
                        headers={"Retry-After": "5"},
                    ) from None
                log.warning("named keys could not be read again (%s): the last ones read hold", type(exc).__name__)
            finally:
                self._checked = self._clock()
