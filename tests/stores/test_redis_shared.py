"""Keys, limits, budgets and the ledger shared by replicas over a real `redis-server` (each replica with its own
SQLite file, as on two machines): two proxies enforce one combined request limit and one token limit exactly under
concurrent load; a budget spent on one refuses on the other; a key made or revoked through one holds on the other;
usage recorded by both adds up. Redis down fails open (served, counted alone, a warning; the named keys last read
hold) or, with PROXY_REDIS_REQUIRED, closed (503). The Lua scripts themselves: all or none, seeds, adjustments that
never go below zero."""

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
from app.stores.keys import KeyRecord, key_hash
from app.stores.quotas import Ask
from app.stores.redis_keys import RedisKeyStore
from app.stores.redis_quotas import RedisQuotas
from tests.conftest import StartProxy
from tests.console import free_port
from tests.policies.test_budgets import MIDNIGHT
from tests.policies.test_keys_and_limits import NOW, Wall, keys_command
from tests.redis_server import redis_server
from tests.servers import ProxyServer
from tests.serving.test_cache import content_of_stream

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
    """Two proxies on one Redis, each with a state file of its own."""
    return [
        start_proxy(
            seams=Seams(wall_clock=wall), proxy_state_path=state.with_suffix(f".{i}"), proxy_redis_url=redis, **more
        )
        for i in range(2)
    ]


def make_shared_key(url: str, name: str, **limits: Any) -> str:
    """A named key on Redis, as `workers-ai-proxy keys create` with PROXY_REDIS_URL makes it."""
    record = KeyRecord(name, key_hash(f"sk-{name}"), created=NOW, **limits)

    async def create() -> None:
        client = Redis.from_url(url)
        await RedisKeyStore(client).create(record)
        await client.aclose()

    asyncio.run(create())
    return f"sk-{name}"


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
    key = make_shared_key(fresh_redis, "shared", rpm=20)
    servers = replicas(start_proxy, state, fresh_redis, Wall())
    statuses = asyncio.run(burst(servers, key, 50))
    assert statuses.count(200) == 20 and statuses.count(429) == 30


def test_two_replicas_enforce_one_token_limit(start_proxy: StartProxy, tmp_path: Path, fresh_redis: str) -> None:
    """Each request reserves its prompt and 100 tokens: a limit of 1000 admits as many as fit at once, whichever
    replica they reach, and the same number again once they have settled and given back what they did not use."""
    state = tmp_path / "state.sqlite3"
    key = make_shared_key(fresh_redis, "tokens", tpm=1000)
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
    key = make_shared_key(fresh_redis, "thrifty", daily_neurons=30)
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
    """Limits are counted by this replica alone; a named key read before Redis went away still works; one never
    read cannot be checked (503), while PROXY_API_KEYS keys are served throughout."""
    state = tmp_path / "state.sqlite3"
    body = {"model": LLAMA, "messages": HELLO, "max_tokens": 5}
    with redis_server() as url:
        key = make_shared_key(url, "alone", rpm=2)
        server = start_proxy(
            seams=Seams(wall_clock=Wall()), proxy_state_path=state, proxy_redis_url=url, proxy_api_keys=["sk-static"]
        )
        named = {"Authorization": f"Bearer {key}"}
        assert httpx.post(server.url + "/v1/chat/completions", json=body, headers=named).status_code == 200
    with caplog.at_level(logging.WARNING, logger="workers_ai_proxy"):  # Redis has stopped
        statuses = [
            httpx.post(server.url + "/v1/chat/completions", json=body, headers=named).status_code for _ in range(3)
        ]
    assert statuses == [200, 200, 429]  # served, and still limited: by this replica's own counters
    assert "Redis is unreachable" in caplog.text
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    cold = start_proxy(proxy_state_path=state, proxy_redis_url=nowhere, proxy_api_keys=["sk-static"], proxy_key_rpm=2)
    unknown = httpx.post(cold.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-other"})
    assert unknown.status_code == 503 and unknown.json()["error"]["code"] == "state_unavailable"
    static = {"Authorization": "Bearer sk-static"}
    statuses = [httpx.post(cold.url + "/v1/chat/completions", json=body, headers=static).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_redis_down_fails_closed_when_required(start_proxy: StartProxy, tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    server = start_proxy(
        proxy_redis_url=nowhere, proxy_redis_required=True, proxy_api_keys=["sk-static"], proxy_key_rpm=2
    )
    reply = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": LLAMA, "messages": HELLO},
        headers={"Authorization": "Bearer sk-static"},
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
    key = make_shared_key(fresh_redis, "both")
    assert asyncio.run(burst(servers, key, 20)) == [200] * 20
    assert asyncio.run(burst(servers, key, 4, model="@cf/meta/llama-3.1-8b-instruct")) == [200] * 4
    query = {"group_by": "key,model", "start": "0", "end": "9999999999"}  # the replicas' clock is injected
    headers = {"Authorization": f"Bearer {admin}"}
    for server in servers:  # each writes out what it holds before it reads
        httpx.get(server.url + "/v1/usage", params=query, headers=headers)
    for server in servers:
        rows = httpx.get(server.url + "/v1/usage", params=query, headers=headers).json()["data"]
        assert [(r["key"], r["model"], r["requests"], r["errors"]) for r in rows] == [
            ("both", "@cf/meta/llama-3.1-8b-instruct", 4, 0),
            ("both", LLAMA, 20, 0),
        ]
        assert all(r["input_tokens"] > 0 and r["neurons"] > 0 for r in rows)
    today = {"start": str(NOW - 60), "end": str(NOW + 60)}
    (total,) = httpx.get(servers[0].url + "/v1/usage", params=today, headers=headers).json()["data"]
    assert total["requests"] == 24
    earlier = {"start": str(NOW - 7200), "end": str(NOW - 3600)}
    assert httpx.get(servers[0].url + "/v1/usage", params=earlier, headers=headers).json()["data"] == []


def test_a_key_made_or_revoked_on_one_replica_holds_on_the_other(
    start_proxy: StartProxy, tmp_path: Path, fresh_redis: str
) -> None:
    admin = "sk-admin-0123456789abcdef"
    first, second = replicas(start_proxy, tmp_path / "state", fresh_redis, Wall(), proxy_admin_key=admin)
    headers = {"Authorization": f"Bearer {admin}"}
    made = httpx.post(first.url + "/admin/keys", json={"name": "roaming", "rpm": 50}, headers=headers)
    assert made.status_code == 201
    user = {"Authorization": f"Bearer {made.json()['key']}"}
    body = {"model": LLAMA, "messages": HELLO, "max_tokens": 5}
    assert wait_for_status(second.url, body, user, 200) == 200
    listed = httpx.get(second.url + "/admin/keys", headers=headers).json()["data"]
    assert [row["name"] for row in listed] == ["roaming"]
    assert httpx.delete(second.url + "/admin/keys/roaming", headers=headers).status_code == 200
    refused = wait_for_status(first.url, body, user, 401)
    assert refused == 401
    command = keys_command(tmp_path / "unused", "create", "--name", "cli", redis=fresh_redis)
    assert command.returncode == 0, command.stderr
    cli_user = {"Authorization": f"Bearer {command.stdout.strip()}"}
    assert wait_for_status(second.url, body, cli_user, 200) == 200
    assert "cli" in keys_command(tmp_path / "unused", "list", redis=fresh_redis).stdout
    assert not (tmp_path / "unused").exists()  # the command used Redis, not a state file


def wait_for_status(url: str, body: dict[str, Any], headers: dict[str, str], status: int) -> int:
    """Until the replica has read the keys again (it looks at most a second after a change): an event, not a time."""
    for _ in range(300):
        reply = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
        if reply.status_code == status:
            return status
        asyncio.run(asyncio.sleep(0.05))
    return reply.status_code


def test_an_entry_written_by_one_replica_is_hit_by_the_other(
    start_proxy: StartProxy, tmp_path: Path, fresh_redis: str
) -> None:
    first, second = replicas(start_proxy, tmp_path / "state", fresh_redis, Wall(), proxy_cache="on")
    body = {"model": LLAMA, "messages": HELLO, "temperature": 0, "max_tokens": 64}
    made = httpx.post(first.url + "/v1/chat/completions", json=body)
    assert made.headers["x-proxy-cache"] == "miss"
    again = httpx.post(second.url + "/v1/chat/completions", json={**body, "stream": True})
    assert again.headers["x-proxy-cache"] == "hit"  # replayed as a stream on the other replica
    text, pieces = content_of_stream(again)
    assert text == made.json()["choices"][0]["message"]["content"] and pieces > 1
    embed = {"model": "@cf/baai/bge-base-en-v1.5", "input": ["shared", "vectors"]}
    assert httpx.post(first.url + "/v1/embeddings", json=embed).headers["x-proxy-cache"] == "miss"
    hit = httpx.post(second.url + "/v1/embeddings", json=embed)
    assert hit.headers["x-proxy-cache"] == "hit" and len(hit.json()["data"]) == 2

    async def stored() -> list[bytes]:
        client = Redis.from_url(fresh_redis)
        try:
            return [key async for key in client.scan_iter("{wap}:c:*")]
        finally:
            await client.aclose()

    assert len(asyncio.run(stored())) == 3  # one chat answer, two vectors
