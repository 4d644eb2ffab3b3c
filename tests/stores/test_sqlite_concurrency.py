"""`--workers N` opens one state database from N processes at once: every one gets it, none sees `database is
locked` (SQLite reports that at once, without waiting, when switching to WAL meets another opener's lock)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from app.stores.sqlite import SQLiteState


def _open(path: str, start: Any) -> str:
    start.wait()
    try:
        SQLiteState(Path(path)).close()
    except Exception as exc:  # reported to the test
        return f"{type(exc).__name__}: {exc}"
    return ""


def test_many_processes_open_one_database_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(4) as pool:
        for round_ in range(6):
            start = manager.Barrier(4)
            path = str(tmp_path / f"state-{round_}.sqlite3")
            failures = [found for found in pool.starmap(_open, [(path, start)] * 4) if found]
            assert not failures
