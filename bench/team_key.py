#!/usr/bin/env python3
"""Make the load generator's key (`sk-bench`) a named key with every kind of limit, so that a benchmark run pays
for all of them on each request: requests and tokens per minute, both again for the model it asks, and daily and
monthly budgets in neurons and tokens. The limits are far above what a run can reach: it measures their cost, not
their refusals.

    python bench/team_key.py --state PATH          # the embedded backend's state database
    python bench/team_key.py --redis redis://...   # the shared backend
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from app.stores.keys import KeyRecord, ModelLimit, key_hash

BENCH_KEY = "sk-bench"  # what ../shared/bench/load.py sends
CHAT_MODEL = "@cf/meta/llama-3.1-8b-instruct"
HIGH = 10**9


def record() -> KeyRecord:
    return KeyRecord(
        "bench",
        key_hash(BENCH_KEY),
        rpm=HIGH,
        tpm=HIGH,
        daily_neurons=HIGH,
        monthly_neurons=HIGH,
        created=time.time(),
        daily_tokens=HIGH,
        monthly_tokens=HIGH,
        model_limits=(ModelLimit(CHAT_MODEL, HIGH, HIGH),),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--state", type=Path)
    where.add_argument("--redis")
    args = parser.parse_args()
    if args.state is not None:
        from app.stores.sqlite import SQLiteState

        state = SQLiteState(args.state)
        try:
            await state.create(record())
        finally:
            state.close()
        return
    from redis.asyncio import Redis

    from app.stores.redis_keys import RedisKeyStore

    client = Redis.from_url(args.redis)
    try:
        await client.flushdb()  # counters and usage of an earlier run start from nothing
        await RedisKeyStore(client).create(record())
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
