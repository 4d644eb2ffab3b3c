#!/usr/bin/env python3
"""Answers from the reply cache, measured against a running proxy (issue 14): one deterministic request repeated,
whole, at a concurrency, with the shared bench's own raw HTTP client (`load.Conn`, as the floor is measured): the
proxy's CPU per request (its process tree, from /proc), the median latency and the rate. The first request fills
the cache; each reply must carry the second one's answer, and the proxy's `proxy_cache_requests_total` must have
counted every one as a hit (when its metrics are on), or the run reports errors.

The shared fake upstream always writes the whole token budget (`finish_reason: length`, never cached), so for chat
point the proxy at an upstream whose answers end on their own: `workers-ai-proxy --emulator` does (a hit never
reaches it, so it costs the measurement nothing).

    python bench/cache_hits.py --url http://127.0.0.1:18203 --pid PID [--endpoint chat|embed] [-c 16] [-n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, os.environ.get("SHARED_BENCH", str(Path(__file__).resolve().parents[2] / "shared" / "bench")))
import load  # the shared bench's client and /proc readers

BODIES = {
    "chat": {
        "model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",  # one the emulator serves
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Write a short greeting."},
        ],
        "max_tokens": 256,
        "temperature": 0,
    },
    "embed": {"model": "@cf/baai/bge-base-en-v1.5", "input": "The quick brown fox jumps over the lazy dog."},
}
PATHS = {"chat": "/v1/chat/completions", "embed": "/v1/embeddings"}
ENDPOINTS = {"chat": "chat", "embed": "embeddings"}


def answer_of(endpoint: str, body: bytes) -> Any:
    reply = orjson.loads(body)
    return reply["choices"] if endpoint == "chat" else reply["data"]


def hits_counted(url: str, endpoint: str) -> float | None:
    """The proxy's hit counter for the endpoint, or None when its metrics are off."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    pattern = rf'proxy_cache_requests_total\{{[^}}]*endpoint="{ENDPOINTS[endpoint]}"[^}}]*result="hit"[^}}]*\}} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def measure(url: str, pid: int, endpoint: str, requests: int, concurrency: int) -> dict[str, Any]:
    parts = urlsplit(url)
    payload = orjson.dumps(BODIES[endpoint])
    request = (
        f"POST {PATHS[endpoint]} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    loop = asyncio.get_running_loop()
    conns = [await load.connect(loop, parts.hostname, parts.port) for _ in range(concurrency)]
    for _ in range(2):  # the second is a hit: every reply after it must carry its answer
        status, first, *_ = await conns[0].request(request, False)
        if status != 200:
            raise SystemExit(f"the request failed: {status} {first[:300]!r}")
    expected = answer_of(endpoint, first)
    for conn in conns:  # warm-up: every connection, a few times
        for _ in range(max(1, 200 // concurrency)):
            await conn.request(request, False)
    counted = hits_counted(url, endpoint)
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker(conn: Any) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status, body, *_ = await conn.request(request, False)
            latencies.append(time.perf_counter() - started)
            if status != 200 or answer_of(endpoint, body) != expected:
                errors += 1

    before, clock = load.tree_cpu(pid), time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    used, elapsed = load.tree_cpu(pid) - before, time.perf_counter() - clock
    for conn in conns:
        conn.t.close()
    after = hits_counted(url, endpoint)
    if counted is not None and after is not None and after - counted < requests:
        errors += requests - int(after - counted)  # answered, but not from the cache
    latencies.sort()
    return {
        "endpoint": endpoint,
        "concurrency": concurrency,
        "requests": requests,
        "rps": round(requests / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(load.pct(latencies, 99) * 1000, 3),
        "proxy_cpu_ms_per_req": round(used * 1000 / requests, 4),
        "errors": errors,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--endpoint", choices=sorted(BODIES), default="chat")
    parser.add_argument("-n", "--requests", type=int, default=20000)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--scenario", help="a name for the row (default: <endpoint>_hit_c<concurrency>)")
    parser.add_argument("--append", type=Path, help="add the row to this file's results (load.py's suite form)")
    args = parser.parse_args()
    result = await measure(args.url, args.pid, args.endpoint, args.requests, args.concurrency)
    result["scenario"] = args.scenario or f"{args.endpoint}_hit_c{args.concurrency}"
    print(json.dumps(result))
    if args.append is not None:
        append(args.append, result)


def append(path: Path, row: dict[str, Any]) -> None:
    suite = json.loads(path.read_text()) if path.exists() else {"results": []}
    suite["results"].append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite, indent=1))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
