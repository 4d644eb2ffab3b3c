"""Limits and budgets shared by replicas over a real `redis-server`: two proxies enforce one combined request limit
and one token limit exactly under concurrent load; a budget spent on one refuses on the other; Redis down fails
open (served, counted alone, a warning) or, with PROXY_REDIS_REQUIRED, closed (503). The Lua scripts themselves:
all or none, seeds, adjustments that never go below zero."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.main import Seams
from app.stores.quotas import Ask
from app.stores.redis_quotas import RedisQuotas
from tests.conftest import StartProxy
from tests.console import free_port
from tests.policies.test_budgets import MIDNIGHT
from tests.policies.test_keys_and_limits import Wall, make_key
from tests.redis_server import redis_server
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture()
def fresh_redis(redis_url: str) -> str:
    async def flush() -> None:
        client = Redis.from_url(redis_url)
        await client.flushall()
        await client.aclose()

    asyncio.run(flush())
    return redis_url


def wait_for_counter(url: str, counter: str, value: float) -> None:
    """Until the replicas' batched adjustments have reached Redis (an event, not a time)."""

    async def poll() -> None:
        client = Redis.from_url(url)
        try:
            while True:
                if float(await client.get(counter) or 0) == value:
                    return
                await asyncio.sleep(0.01)
        finally:
            await client.aclose()

    asyncio.run(asyncio.wait_for(poll(), 30))


def replicas(start_proxy: StartProxy, state: Path, redis: str, wall: Wall, **more: Any) -> list[ProxyServer]:
    return [
        start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state, proxy_redis_url=redis, **more)
        for _ in range(2)
    ]


async def burst(servers: list[ProxyServer], key: str, count: int, **body: Any) -> list[int]:
    payload = {"model": LLAMA, "messages": HELLO, "max_tokens": 5, **body}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30) as client:
        replies = await asyncio.gather(
            *(
                client.post(servers[i % 2].url + "/v1/chat/completions", json=payload, headers=headers)
                for i in range(count)
            )
        )
    return [reply.status_code for reply in replies]


def test_two_replicas_enforce_one_request_limit(start_proxy: StartProxy, tmp_path: Path, fresh_redis: str) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "shared", rpm=20)
    servers = replicas(start_proxy, state, fresh_redis, Wall())
    statuses = asyncio.run(burst(servers, key, 50))
    assert statuses.count(200) == 20 and statuses.count(429) == 30


def test_two_replicas_enforce_one_token_limit(start_proxy: StartProxy, tmp_path: Path, fresh_redis: str) -> None:
    """Each request reserves its prompt and 100 tokens: a limit of 1000 admits as many as fit at once, whichever
    replica they reach, and the same number again once they have settled and given back what they did not use."""
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "tokens", tpm=1000)
    servers = replicas(start_proxy, state, fresh_redis, Wall())
    one = httpx.post(
        servers[0].url + "/v1/chat/completions",
        json={"model": LLAMA, "messages": HELLO, "max_tokens": 100},
        headers={"Authorization": f"Bearer {key}"},
    )
    reserved = 1000 - int(one.headers["x-ratelimit-remaining-tokens"])  # this request's reservation, held
    used = one.json()["usage"]["total_tokens"]
    counter = f"{{wap}}:q:rl:tokens:t:{int(Wall().now // 60)}"
    wait_for_counter(fresh_redis, counter, used)  # its reservation given back to what it used
    fits = (1000 - used) // reserved
    statuses = asyncio.run(burst(servers, key, 30, max_tokens=100))
    admitted = statuses.count(200)
    assert fits <= admitted <= 30 and statuses.count(429) == 30 - admitted
    # every admitted request settled and gave back what it did not use (a moment later: adjustments travel
    # together): what is left is exact
    wait_for_counter(fresh_redis, counter, used * (admitted + 1))
    last = httpx.post(
        servers[1].url + "/v1/chat/completions",
        json={"model": LLAMA, "messages": HELLO, "max_tokens": 100},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert last.status_code == 200
    assert int(last.headers["x-ratelimit-remaining-tokens"]) == 1000 - used * (admitted + 1) - reserved


def test_a_budget_spent_on_one_replica_refuses_on_the_other(
    start_proxy: StartProxy, tmp_path: Path, fresh_redis: str
) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "thrifty", daily_neurons=30)
    wall = Wall()
    wall.now = MIDNIGHT - 3600
    first, second = replicas(start_proxy, state, fresh_redis, wall)
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": LLAMA, "messages": HELLO, "max_tokens": 100}
    assert httpx.post(first.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    refused = httpx.post(second.url + "/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "insufficient_quota"


def test_redis_down_fails_open_with_a_warning(
    start_proxy: StartProxy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "alone", rpm=2)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state, proxy_redis_url=nowhere)
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": LLAMA, "messages": HELLO, "max_tokens": 5}
    with caplog.at_level(logging.WARNING, logger="workers_ai_proxy"):
        statuses = [
            httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers).status_code for _ in range(3)
        ]
    assert statuses == [200, 200, 429]  # served, and still limited: by this replica's own counters
    assert "Redis is unreachable" in caplog.text


def test_redis_down_fails_closed_when_required(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "strict", rpm=2)
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    server = start_proxy(proxy_state_path=state, proxy_redis_url=nowhere, proxy_redis_required=True)
    reply = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": LLAMA, "messages": HELLO},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "state_unavailable"
    assert reply.headers["Retry-After"] == "5"


def test_the_scripts(fresh_redis: str) -> None:
    async def scenario() -> None:
        client = Redis.from_url(fresh_redis)
        quotas = RedisQuotas(client)
        asks = [Ask("a", 1, 2, 60), Ask("b", 10, 15, 60, seed=4.5)]
        first = await quotas.reserve(asks)
        assert first.allowed and first.used == (1.0, 14.5)  # b started from its seed
        second = await quotas.reserve(asks)
        assert not second.allowed and second.refused == 1 and second.used == (1.0, 14.5)  # all or none
        await quotas.adjust([("b", -20.0), ("missing", -1.0)])
        await quotas.flush()  # adjustments travel together, a moment later
        third = await quotas.reserve(asks)
        assert third.allowed and third.used == (2.0, 10.0)  # b never went below zero; missing was not made
        assert 0 < await client.ttl("{wap}:q:a") <= 60 and await client.exists("{wap}:q:missing") == 0
        await client.aclose()

    asyncio.run(scenario())


def test_a_response_stored_on_one_replica_is_continued_on_the_other(start_proxy: StartProxy, fresh_redis: str) -> None:
    first, second = (start_proxy(proxy_redis_url=fresh_redis) for _ in range(2))
    made = httpx.post(first.url + "/v1/responses", json={"model": LLAMA, "input": "Remember: 42"})
    assert made.status_code == 200
    response_id = made.json()["id"]
    assert httpx.get(f"{second.url}/v1/responses/{response_id}").json()["id"] == response_id
    continued = httpx.post(
        second.url + "/v1/responses",
        json={"model": LLAMA, "input": "What was it?", "previous_response_id": response_id},
    )
    assert continued.status_code == 200 and continued.json()["previous_response_id"] == response_id
    assert httpx.delete(f"{second.url}/v1/responses/{response_id}").status_code == 200
    assert httpx.get(f"{first.url}/v1/responses/{response_id}").status_code == 404


def test_usage_recorded_by_both_replicas_adds_up(start_proxy: StartProxy, tmp_path: Path, fresh_redis: str) -> None:
    state = tmp_path / "state.sqlite3"
    admin = "sk-admin-0123456789abcdef"
    servers = replicas(start_proxy, state, fresh_redis, Wall(), proxy_admin_key=admin)
    key = make_key(state, "both")
    assert asyncio.run(burst(servers, key, 20)) == [200] * 20
    query = {"group_by": "key", "start": "0", "end": "9999999999"}  # the replicas' clock is injected
    headers = {"Authorization": f"Bearer {admin}"}
    for server in servers:  # each writes out what it holds before it reads
        httpx.get(server.url + "/v1/usage", params=query, headers=headers)
    for server in servers:
        (row,) = httpx.get(server.url + "/v1/usage", params=query, headers=headers).json()["data"]
        assert row["key"] == "both" and row["requests"] == 20 and row["errors"] == 0
