"""The embedded backend's durable part: one SQLite file (`PROXY_STATE_PATH`) that survives restarts, shared by the
server and the `keys` command. Calls run in a worker thread: the event loop never waits on the disk."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from app.stores.keys import KeyRecord, ModelLimit
from app.stores.usage import USAGE_FIELDS, Spent, UsageRow

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    models TEXT NOT NULL DEFAULT '[]',
    rpm INTEGER, tpm INTEGER, daily_neurons INTEGER, monthly_neurons INTEGER,
    expires REAL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    daily_tokens INTEGER, monthly_tokens INTEGER,
    model_limits TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS usage (
    at REAL NOT NULL, day TEXT NOT NULL, key TEXT NOT NULL, endpoint TEXT NOT NULL,
    model_asked TEXT, model_served TEXT, route TEXT,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL, measured INTEGER NOT NULL, neurons REAL NOT NULL,
    outcome TEXT NOT NULL, status INTEGER NOT NULL, cache_hit INTEGER NOT NULL, request_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_at ON usage (at);
CREATE INDEX IF NOT EXISTS usage_key_at ON usage (key, at);
"""
USAGE_GROUPS = {"key": "key", "model": "COALESCE(model_served, model_asked, '')", "day": "day", "endpoint": "endpoint"}
TOTALS = {
    "requests": "COUNT(*)",
    "input_tokens": "SUM(input_tokens)",
    "output_tokens": "SUM(output_tokens)",
    "cached_tokens": "SUM(cached_tokens)",
    "reasoning_tokens": "SUM(reasoning_tokens)",
    "neurons": "SUM(neurons)",
    "errors": "SUM(outcome != 'completed')",
}
KEY_COLUMNS = (
    "name, key_hash, models, rpm, tpm, daily_neurons, monthly_neurons, expires, revoked, created, "
    "daily_tokens, monthly_tokens, model_limits"
)
# columns added after the first release: a database made before gets them when it is opened
ADDED_KEY_COLUMNS = {
    "daily_tokens": "INTEGER",
    "monthly_tokens": "INTEGER",
    "model_limits": "TEXT NOT NULL DEFAULT '[]'",
}


SETUP_ATTEMPTS = 100  # about 25 seconds of waiting in all, for the other workers opening the same file


class SQLiteState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one connection, used by one thread at a time (the lock); WAL lets the `keys` command write meanwhile
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._lock = threading.Lock()
        self._writes = 0
        with self._lock:
            for attempt in range(SETUP_ATTEMPTS):
                try:
                    self._set_up()
                    break
                except sqlite3.OperationalError as exc:
                    # `--workers N` opens one file N times at once: switching to WAL and creating the tables
                    # may meet another worker's lock, which SQLite reports at once rather than waiting for
                    if "locked" not in str(exc) or attempt == SETUP_ATTEMPTS - 1:
                        raise
                    # start-up only; short waits: a worker still starting gets none of the first connections
                    time.sleep(0.005 * (attempt + 1))

    def _set_up(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash may lose the last batch, never corrupt
        self._db.executescript(SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(keys)")}
        for column, kind in ADDED_KEY_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE keys ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._db)

        return await asyncio.to_thread(locked)

    # -- keys ----------------------------------------------------------------------------------------------
    async def create(self, record: KeyRecord) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(f"INSERT INTO keys ({KEY_COLUMNS}) VALUES ({','.join('?' * 13)})", _key_row(record))
            except sqlite3.IntegrityError:
                raise ValueError(f"a key named {record.name!r} exists already") from None
            self._writes += 1

        await self._run(insert)

    async def by_hash(self, digest: str) -> KeyRecord | None:
        def find(db: sqlite3.Connection) -> KeyRecord | None:
            row = db.execute(f"SELECT {KEY_COLUMNS} FROM keys WHERE key_hash = ?", (digest,)).fetchone()
            return None if row is None else _key_record(row)

        return await self._run(find)

    async def all(self) -> list[KeyRecord]:
        def every(db: sqlite3.Connection) -> list[KeyRecord]:
            return [_key_record(row) for row in db.execute(f"SELECT {KEY_COLUMNS} FROM keys ORDER BY name")]

        return await self._run(every)

    async def revoke(self, name: str) -> bool:
        def update(db: sqlite3.Connection) -> bool:
            changed = db.execute("UPDATE keys SET revoked = 1 WHERE name = ? AND revoked = 0", (name,)).rowcount
            self._writes += 1
            return bool(changed)

        return await self._run(update)

    async def version(self) -> int:
        def read(db: sqlite3.Connection) -> int:
            # data_version moves when another connection (the `keys` command) commits; ours are counted here
            found: int = db.execute("PRAGMA data_version").fetchone()[0]
            return found + self._writes

        return await self._run(read)

    # -- the usage ledger ----------------------------------------------------------------------------------
    async def record(self, rows: list[UsageRow]) -> None:
        def insert(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")  # one transaction per batch: a commit per row costs more than the request
            try:
                db.executemany(f"INSERT INTO usage VALUES ({','.join('?' * len(USAGE_FIELDS))})", rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(insert)

    async def totals(self, start: float, end: float, group_by: tuple[str, ...]) -> list[dict[str, Any]]:
        columns = [f"{USAGE_GROUPS[g]} AS {g}" for g in group_by]
        grouped = f" GROUP BY {', '.join(group_by)} ORDER BY {', '.join(group_by)}" if group_by else ""
        query = f"SELECT {', '.join([*columns, *TOTALS.values()])} FROM usage WHERE at >= ? AND at < ?{grouped}"

        def read(db: sqlite3.Connection) -> list[dict[str, Any]]:
            out = []
            for row in db.execute(query, (start, end)):
                totals = dict(zip(TOTALS, row[len(group_by) :], strict=True))
                if not totals["requests"]:
                    continue  # an ungrouped total over no rows
                totals["neurons"] = round(float(totals["neurons"] or 0), 3)
                out.append({**dict(zip(group_by, row[: len(group_by)], strict=True)), **totals})
            return out

        return await self._run(read)

    async def spent(self, key: str | None, since: float) -> Spent:
        query = "SELECT SUM(neurons), SUM(input_tokens + output_tokens) FROM usage WHERE at >= ?"
        query += " AND key = ?" if key is not None else ""
        args = (since, key) if key is not None else (since,)

        def read(db: sqlite3.Connection) -> Spent:
            neurons, tokens = db.execute(query, args).fetchone()
            return Spent(float(neurons or 0.0), int(tokens or 0))

        return await self._run(read)


def _key_row(record: KeyRecord) -> tuple[Any, ...]:
    return (
        record.name,
        record.key_hash,
        json.dumps(list(record.models)),
        record.rpm,
        record.tpm,
        record.daily_neurons,
        record.monthly_neurons,
        record.expires,
        int(record.revoked),
        record.created,
        record.daily_tokens,
        record.monthly_tokens,
        json.dumps([[m.pattern, m.rpm, m.tpm] for m in record.model_limits]),
    )


def _key_record(row: tuple[Any, ...]) -> KeyRecord:
    name, digest, models, rpm, tpm, daily, monthly, expires, revoked, created, daily_t, monthly_t, per_model = row
    return KeyRecord(
        name,
        digest,
        tuple(json.loads(models)),
        rpm,
        tpm,
        daily,
        monthly,
        expires,
        bool(revoked),
        created,
        daily_t,
        monthly_t,
        tuple(ModelLimit(*limit) for limit in json.loads(per_model or "[]")),
    )
