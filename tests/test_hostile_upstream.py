"""A hostile (or broken) upstream: oversized and compressed replies, endless SSE lines, odd headers and
error bodies. The proxy stays responsive, bounded in memory, and answers each with a clean error."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import aiohttp
import httpx

from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, sse

MODEL = "@cf/meta/llama-3.1-8b-instruct"
ASK = [{"role": "user", "content": "Hello"}]
CHAT = {"model": MODEL, "messages": ASK}


def frames_of(text: str) -> list[Any]:
    return [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: {")]


def _live_upstream_responses() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, aiohttp.ClientResponse))


# -- leaks -----------------------------------------------------------------------------------------
def test_streams_ended_by_the_idle_timeout_leak_nothing(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """Regression: each stream the watchdog ended kept its upstream response alive through aiohttp's one
    shared "Connection closed" exception, whose traceback grew with every stream (~4-5 KB each)."""
    server = start_proxy(proxy_idle_timeout=0.05)

    async def wave(count: int) -> None:
        stalling = Reply(chunks=[sse({"response": "a "}), sse({"response": "b "})], chunk_delay=2)
        fake.script(*[stalling] * count)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def one() -> str:
                response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
                return response.text

            bodies = await asyncio.gather(*(one() for _ in range(count)))
        assert all("stalled" in frames_of(body)[-1]["error"]["message"] for body in bodies)
        fake.reset()

    asyncio.run(wave(20))  # warm-up
    before = _live_upstream_responses()
    for _ in range(3):
        asyncio.run(wave(60))
    assert _live_upstream_responses() <= before + 2  # one per stream (180) before the fix
