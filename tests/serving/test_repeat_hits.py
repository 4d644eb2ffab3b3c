"""Repeats of a reply-cache hit answered before the framework (`app.api.repeat_hits`), through the real server: the
same answer with fresh ids, the caller's request id, rate limits, the ledger and the metrics as for any hit; and
everything that must go the whole way does: another body or header that matters, a revoked key, an expired or
changed entry, a body in pieces or without a length."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import Seams
from tests.conftest import StartProxy
from tests.fake_upstream import TOKEN, FakeUpstream, Reply
from tests.openai_schema import sdk
from tests.policies.test_keys_and_limits import Wall
from tests.servers import ProxyServer

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
EMBED = "@cf/baai/bge-base-en-v1.5"
ADMIN = {"Authorization": "Bearer sk-admin"}
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Repeat after me"}],
    "temperature": 0,
    "max_tokens": 64,
}


@pytest.fixture()
def cached(start_proxy: StartProxy, tmp_path: Path) -> ProxyServer:
    return start_proxy(proxy_cache="on", proxy_state_path=tmp_path / "state.sqlite3", proxy_admin_key="sk-admin")


def chat(server: ProxyServer, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json={**BODY, **body}, headers=headers or {}, timeout=30)


def served_early(server: ProxyServer) -> int:
    served: int = server.app.repeats.served  # type: ignore[attr-defined]
    return served


def test_repeats_are_answered_early_as_hits_with_fresh_ids(cached: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(cached.url) as client:  # the SDK's own headers (x-stainless-*) change nothing
        replies = [
            client.chat.completions.with_raw_response.create(**BODY)  # type: ignore[call-overload]
            for _ in range(5)
        ]
    assert [r.headers["x-proxy-cache"] for r in replies] == ["miss", "hit", "hit", "hit", "hit"]
    assert served_early(cached) == 3 and len(fake.requests) == 1  # the second hit on: from its recipe
    parsed = [r.parse() for r in replies]  # validated by the SDK's types; the schema check is the fixture's
    assert len({p.id for p in parsed}) == 5 and all(p.id.startswith("chatcmpl-") for p in parsed)
    assert {p.choices[0].message.content for p in parsed} == {parsed[0].choices[0].message.content}
    assert all(abs(p.created - time.time()) < 3600 for p in parsed) and parsed[4].usage == parsed[0].usage
    assert len({r.headers["x-request-id"] for r in replies}) == 5
    assert {r.headers["x-served-model"] for r in replies} == {MODEL}
    assert {r.headers["content-type"] for r in replies} == {"application/json"}
    mine = [chat(cached, {"x-request-id": f"my-trace-{i}"}) for i in range(2)]  # httpx's JSON: another body
    assert [r.headers["x-request-id"] for r in mine] == ["my-trace-0", "my-trace-1"] and served_early(cached) == 4
    httpx.get(cached.url + "/v1/usage", headers=ADMIN)  # writes the ledger out
    state = Path(cached.app.state.proxy.pipeline.settings.proxy_state_path)
    rows = sqlite3.connect(state).execute("SELECT cache_hit, neurons, request_id FROM usage").fetchall()
    assert sorted((hit, neurons) for hit, neurons, _ in rows)[1:] == [(1, 0.0)] * 6
    assert "my-trace-1" in {rid for _, _, rid in rows}
    metrics = httpx.get(cached.url + "/metrics").text
    assert 'proxy_cache_requests_total{endpoint="chat",result="hit"} 6.0' in metrics


def test_embeddings_and_completions_repeat_too(cached: ProxyServer, fake: FakeUpstream) -> None:
    ask = {"model": EMBED, "input": ["one", "two"]}
    replies = [httpx.post(cached.url + "/v1/embeddings", json=ask) for _ in range(4)]
    assert [r.headers["x-proxy-cache"] for r in replies] == ["miss", "hit", "hit", "hit"]
    assert all(r.json() == replies[0].json() for r in replies[1:]) and served_early(cached) == 2  # a miss too
    prompt = {"model": MODEL, "prompt": "Say hi", "temperature": 0, "max_tokens": 64}
    texts = [httpx.post(cached.url + "/v1/completions", json=prompt).json() for _ in range(3)]
    assert texts[2]["choices"] == texts[0]["choices"] and texts[2]["id"].startswith("cmpl-")
    assert len({t["id"] for t in texts}) == 3 and served_early(cached) == 3 and len(fake.requests) == 2


def test_limits_still_count_and_refuse(start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path) -> None:
    server = start_proxy(proxy_cache="on", proxy_state_path=tmp_path / "s.sqlite3", proxy_admin_key="sk-admin")
    key = httpx.post(server.url + "/admin/keys", json={"name": "small", "rpm": 4}, headers=ADMIN).json()["key"]
    user = {"Authorization": f"Bearer {key}"}
    replies = [chat(server, user) for _ in range(5)]
    assert [r.status_code for r in replies] == [200, 200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in replies[:4]] == ["3", "2", "1", "0"]
    assert replies[4].json()["error"]["code"] == "rate_limit_exceeded" and "retry-after" in replies[4].headers
    assert served_early(server) == 2  # the refusal itself was rendered the whole way
    revoked = httpx.delete(server.url + "/admin/keys/small", headers=ADMIN)
    assert revoked.status_code == 200


def test_a_revoked_key_is_refused_on_a_repeat(start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path) -> None:
    server = start_proxy(proxy_cache="on", proxy_state_path=tmp_path / "s.sqlite3", proxy_admin_key="sk-admin")
    key = httpx.post(server.url + "/admin/keys", json={"name": "leaving"}, headers=ADMIN).json()["key"]
    user = {"Authorization": f"Bearer {key}"}
    assert [chat(server, user).headers["x-proxy-cache"] for _ in range(3)] == ["miss", "hit", "hit"]
    assert served_early(server) == 1
    assert httpx.delete(server.url + "/admin/keys/leaving", headers=ADMIN).status_code == 200
    reply = chat(server, user)  # revoked on this replica: its guard reads the keys again at once
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "key_revoked"


def test_what_goes_the_whole_way(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    wall = Wall()  # the entries' clock
    server = start_proxy(proxy_cache="on", seams=Seams(wall_clock=wall))
    assert [chat(server).headers["x-proxy-cache"] for _ in range(3)] == ["miss", "hit", "hit"]
    assert served_early(server) == 1
    assert chat(server, {"Cache-Control": "no-cache"}).headers["x-proxy-cache"] == "miss"  # a header that matters
    assert chat(server, max_tokens=65).headers["x-proxy-cache"] == "miss"  # another body
    body = httpx.Request("POST", "/", json=BODY).content

    def pieces() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    in_pieces = httpx.post(  # a body in two messages, its length declared: read whole, answered early
        server.url + "/v1/chat/completions", content=pieces(), headers={"content-length": str(len(body))}
    )
    assert in_pieces.headers["x-proxy-cache"] == "hit" and served_early(server) == 2
    unsized = httpx.post(server.url + "/v1/chat/completions", content=pieces())  # chunked: the whole way
    assert unsized.headers["x-proxy-cache"] == "hit" and served_early(server) == 2
    bad = httpx.post(
        server.url + "/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    wall.now += 7200  # past the entry's TTL: the recipe finds it gone
    assert chat(server).headers["x-proxy-cache"] == "miss" and served_early(server) == 2
    assert [chat(server).headers["x-proxy-cache"] for _ in range(2)] == ["hit", "hit"]
    assert served_early(server) == 3 and len(fake.requests) == 4


def test_a_replaced_entry_is_not_served_from_an_old_recipe(cached: ProxyServer, fake: FakeUpstream) -> None:
    assert [chat(cached).headers["x-proxy-cache"] for _ in range(3)] == ["miss", "hit", "hit"]
    fake.script(Reply(json={"result": {"response": "A different answer now"}, "success": True}))
    assert chat(cached, {"Cache-Control": "no-cache"}).headers["x-proxy-cache"] == "miss"  # kept again: replaced
    again = chat(cached)
    assert again.headers["x-proxy-cache"] == "hit"
    assert again.json()["choices"][0]["message"]["content"] == "A different answer now"
    assert served_early(cached) == 1  # the old recipe found its entry changed: the whole way made a new one
    assert chat(cached).json()["choices"][0]["message"]["content"] == "A different answer now"
    assert served_early(cached) == 2


def test_pass_through_tenants_repeat_their_own_answers(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_cache="on", cloudflare_api_token=None)  # the caller's token is the Cloudflare one
    alice, bob = {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer cf-token-bob"}
    assert [chat(server, alice).headers["x-proxy-cache"] for _ in range(3)] == ["miss", "hit", "hit"]
    assert served_early(server) == 1  # an identity made afresh per request, equal to the recipe's
    refused = chat(server, bob)  # never alice's answer: the upstream refuses bob's token (the fake knows one)
    assert refused.status_code == 401 and refused.headers.get("x-proxy-cache") != "hit"
    assert len(fake.requests) == 2


def test_recipes_are_bounded_by_what_they_hold() -> None:
    from types import SimpleNamespace

    from app.api.repeat_hits import MAX_RECIPE_BYTES, RepeatHits
    from app.exchange import Exchange
    from app.policies.identity import Identity
    from app.routing.route import Route

    repeats = RepeatHits([])
    repeats.paths = frozenset({"/v1/embeddings"})
    catalogue = SimpleNamespace(entry=lambda model_id: None)
    repeats.enable(SimpleNamespace(log_bodies=False, pipeline=SimpleNamespace(catalogue=catalogue)), object())  # type: ignore[arg-type]
    entry = bytes(3072)  # one 768-dimension vector
    reply = b'{"object":"list","data":[' + b"0," * (2 * 1024 * 1024) + b"0]}"  # a large batch's reply
    for n in range(20):  # 80 MB in all
        exchange = Exchange(f"r{n}", "embeddings", 0.0, Identity("key-1", "t"))
        exchange.route, exchange.cache = Route("m", "@cf/baai/bge-base-en-v1.5"), "hit"
        exchange.cache_found = ((f"k{n}",), (entry,))
        scope = {"path": "/v1/embeddings", "headers": [(b"content-type", b"application/json")]}
        repeats.remember(scope, f'{{"input": "{n}"}}'.encode(), exchange, [], reply)
    held = len(repeats._memo) * (len(reply) + len(entry))
    assert 0 < len(repeats._memo) < 20 and held <= MAX_RECIPE_BYTES
