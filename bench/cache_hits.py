#!/usr/bin/env python3
"""Chat answers from the reply cache, measured against a running proxy (issue 14): one deterministic chat request
repeated, whole, at a concurrency: the proxy's CPU per request (from /proc) and the median latency. The first
request fills the cache; the rest must be hits (`x-proxy-cache: hit`), or they count as errors.

The shared fake upstream always writes the whole token budget (`finish_reason: length`, never cached), so point
the proxy at an upstream whose answers end on their own: `workers-ai-proxy --emulator` does (a hit never reaches
it, so it costs the measurement nothing).

    python bench/cache_hits.py --url http://127.0.0.1:18203 --pid PID [--requests 5000 --concurrency 16]
    python bench/cache_hits.py ... --relay   # `Cache-Control: no-cache`: every one relayed (the emulator in-process)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import aiohttp

BODY = {
    "model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",  # one the emulator serves
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Write a short greeting."},
    ],
    "max_tokens": 256,
    "temperature": 0,
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(url: str, pid: int, requests: int, concurrency: int, relay: bool) -> dict[str, float]:
    payload = json.dumps(BODY).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
    if relay:
        headers["Cache-Control"] = "no-cache"  # looked past, answered by the upstream, kept again
    latencies: list[float] = []
    errors = 0
    remaining = requests
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(url + "/v1/chat/completions", data=payload, headers=headers) as first:
            await first.read()  # fills the cache
        for _ in range(200):  # warm-up
            async with session.post(url + "/v1/chat/completions", data=payload, headers=headers) as reply:
                await reply.read()

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post(url + "/v1/chat/completions", data=payload, headers=headers) as reply:
                    await reply.read()
                    expected = "miss" if relay else "hit"
                    if reply.status != 200 or reply.headers.get("x-proxy-cache") != expected:
                        errors += 1
                        continue
                latencies.append(time.perf_counter() - started)

        before, clock = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        used, elapsed = cpu_seconds(pid) - before, time.perf_counter() - clock
    return {
        "rps": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "cpu_ms_per_req": used * 1000 / requests,
        "errors": errors,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--relay", action="store_true")
    args = parser.parse_args()
    print(json.dumps(await measure(args.url, args.pid, args.requests, args.concurrency, args.relay)))


if __name__ == "__main__":
    asyncio.run(main())
