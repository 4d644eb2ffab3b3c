"""The embedded reply cache kept across restarts (PROXY_CACHE_PERSIST): written at shutdown to one SQLite file next
to the state database, read back at start-up, each entry with the time it had left (wall clock, so that a restart's
downtime counts against it)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from app.stores.cache import MemoryCache

SCHEMA = "CREATE TABLE IF NOT EXISTS cache (position INTEGER PRIMARY KEY, key TEXT, value BLOB, expires REAL)"


def cache_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.stem + "-cache.sqlite3")


async def load(path: Path, cache: MemoryCache) -> int:
    """Entries read back (none when there is no file); the file is emptied: it holds one shutdown's worth."""

    def read() -> list[tuple[str, bytes, float]]:
        if not path.exists():
            return []
        db = sqlite3.connect(path)
        try:
            db.execute(SCHEMA)
            now = time.time()
            rows = db.execute("SELECT key, value, expires FROM cache ORDER BY position").fetchall()
            db.execute("DELETE FROM cache")
            db.commit()
            return [(key, bytes(value), expires - now) for key, value, expires in rows if expires > now]
        finally:
            db.close()

    entries = await asyncio.to_thread(read)
    cache.restore(entries)
    return len(entries)


async def save(path: Path, cache: MemoryCache) -> int:
    entries = cache.live()

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path)
        try:
            db.execute(SCHEMA)
            db.execute("DELETE FROM cache")
            now = time.time()
            db.executemany(
                "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?)",
                [(key, value, now + left) for key, value, left in entries],
            )
            db.commit()
        finally:
            db.close()

    await asyncio.to_thread(write)
    return len(entries)
