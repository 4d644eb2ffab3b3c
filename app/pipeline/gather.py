"""Waiting for several upstream jobs at once, without asyncio.gather's task and loop turns for the usual one."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_all(jobs: list[Coroutine[Any, Any, T]]) -> list[T]:
    """`asyncio.gather`, without its task and extra loop turns for the usual single job."""
    if len(jobs) == 1:
        return [await jobs[0]]
    return list(await asyncio.gather(*jobs))


async def settle_all(jobs: list[Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """As `gather_all`, but every job runs to its end and failures are returned, not raised."""
    if len(jobs) == 1:
        try:
            return [await jobs[0]]
        except Exception as exc:
            return [exc]
    return list(await asyncio.gather(*jobs, return_exceptions=True))
