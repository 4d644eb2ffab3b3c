#!/usr/bin/env python3
"""The same 64-token stream asked as Chat Completions, as Anthropic Messages and as an OpenAI Responses stream, in
turn, against one running proxy: CPU per stream (the proxy's, from /proc) and time to the first token, per protocol.
The bridges' target (issue 12): each at most 1.3x the CPU of Chat Completions, first token within 1 ms of it.

CPU is measured with `--concurrency` streams at once (the proxy's core kept busy); time to the first token with one
stream at a time (`ttft_p50_ms`, what the bridge itself adds) and under that load (`ttft_p50_ms_loaded`, which is
mostly the queue of the other streams' CPU).

    python bench/protocol_streams.py --url http://127.0.0.1:18201 --pid PID [--streams 3000 --concurrency 16]
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

MODEL = "@cf/meta/llama-3.1-8b-instruct"  # the shared fake upstream's model
PROMPT = "Write a short greeting. [[fake latency_ms=0 interval_ms=0]]"
FIRST_TOKEN = {"chat": b'"content":"', "messages": b'"text_delta"', "responses": b"response.output_text.delta"}
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}
PROTOCOLS = tuple(PATHS)


def body(protocol: str, tokens: int) -> dict[str, object]:
    if protocol == "responses":
        return {
            "model": MODEL,
            "max_output_tokens": tokens,
            "instructions": "You are a concise assistant.",
            "stream": True,
            "store": False,
            "input": PROMPT,
        }
    if protocol == "messages":
        return {
            "model": MODEL,
            "max_tokens": tokens,
            "system": "You are a concise assistant.",
            "stream": True,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    return {
        "model": MODEL,
        "max_tokens": tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": PROMPT},
        ],
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(url: str, pid: int, protocol: str, streams: int, concurrency: int, tokens: int) -> dict[str, float]:
    path = PATHS[protocol]
    payload = json.dumps(body(protocol, tokens)).encode()
    marker = FIRST_TOKEN[protocol]
    ttfts: list[float] = []
    errors = 0
    remaining = streams

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            first = None
            async with session.post(
                url + path,
                data=payload,
                headers={"Content-Type": "application/json", "Authorization": "Bearer sk-bench"},
            ) as r:
                async for chunk in r.content.iter_any():
                    if first is None and marker in chunk:
                        first = time.perf_counter() - started
                if r.status != 200 or first is None:
                    errors += 1
                    continue
            ttfts.append(first)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        before = cpu_seconds(pid)
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        used = cpu_seconds(pid) - before
    return {
        "cpu_ms_per_stream": used * 1000 / streams,
        "ttft_p50_ms": statistics.median(ttfts) * 1000,
        "errors": errors,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--streams", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-streams", type=int, default=300, help="streams one at a time, per round")
    args = parser.parse_args()
    for protocol in PROTOCOLS:  # warm-up
        await one_round(args.url, args.pid, protocol, 200, args.concurrency, args.tokens)
    results: dict[str, list[dict[str, float]]] = {protocol: [] for protocol in PROTOCOLS}
    for _ in range(args.rounds):  # in turn: the machine's drift falls on all
        for protocol in PROTOCOLS:
            loaded = await one_round(args.url, args.pid, protocol, args.streams, args.concurrency, args.tokens)
            alone = await one_round(args.url, args.pid, protocol, args.latency_streams, 1, args.tokens)
            results[protocol].append(
                {
                    "cpu_ms_per_stream": loaded["cpu_ms_per_stream"],
                    "ttft_p50_ms": alone["ttft_p50_ms"],
                    "ttft_p50_ms_loaded": loaded["ttft_p50_ms"],
                    "errors": loaded["errors"] + alone["errors"],
                }
            )
    summary = {
        protocol: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for protocol, rounds in results.items()
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
