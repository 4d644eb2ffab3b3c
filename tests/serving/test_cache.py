"""The reply cache through the real server with the SDKs as clients (their replies and stream events checked
against the protocols' schemas): a miss then a hit with one upstream call; a stream and a whole reply sharing one
entry; cached answers replayed as Chat Completions, Anthropic Messages and Responses streams; embeddings cached
per input (the upstream sees only what is missing, order kept); what is never cached (random sampling, errors,
`length`, cancelled streams); no-cache, no-store, TTLs; entries per key; hits in the ledger and the metrics."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from app.exchange import Exchange
from app.main import Seams
from app.policies.cache import ReplyCache
from app.policies.identity import Identity, pass_through
from app.protocol.chat import ChatCompletionRequest
from app.routing.route import Route
from app.stores.cache import MemoryCache
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, envelope_error
from tests.openai_schema import sdk
from tests.policies.test_keys_and_limits import Wall
from tests.servers import ProxyServer

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
EMBED = "@cf/baai/bge-base-en-v1.5"
HELLO = [{"role": "user", "content": "Tell me about caches"}]


@pytest.fixture()
def cached(start_proxy: StartProxy, tmp_path: Path) -> ProxyServer:
    return start_proxy(proxy_cache="on", proxy_state_path=tmp_path / "state.sqlite3", proxy_admin_key="sk-admin")


def chat(server: ProxyServer, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    payload = {"model": MODEL, "messages": HELLO, "temperature": 0, "max_tokens": 64, **body}
    return httpx.post(server.url + "/v1/chat/completions", json=payload, headers=headers or {}, timeout=30)


def content_of_stream(reply: httpx.Response) -> tuple[str, int]:
    """The streamed text and how many content frames carried it."""
    pieces = []
    for line in reply.text.splitlines():
        if line.startswith("data: {"):
            chunk = httpx.Response(200, content=line[6:]).json()
            for choice in chunk.get("choices", []):
                if choice["delta"].get("content"):
                    pieces.append(choice["delta"]["content"])
    return "".join(pieces), len(pieces)


def test_a_miss_then_a_hit_with_one_upstream_call(cached: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(cached.url) as client:
        first = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=HELLO,
            temperature=0,
            max_tokens=64,  # type: ignore[arg-type]
        )
        second = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=HELLO,
            temperature=0,
            max_tokens=64,
            user="someone-else",  # type: ignore[arg-type]
        )
    assert first.headers["x-proxy-cache"] == "miss" and second.headers["x-proxy-cache"] == "hit"
    assert len(fake.requests) == 1
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content and a.usage == b.usage
    assert a.id != b.id  # fresh ids


def test_a_stream_and_a_whole_reply_share_an_entry(cached: ProxyServer, fake: FakeUpstream) -> None:
    streamed = chat(cached, stream=True, stream_options={"include_usage": True})
    assert streamed.headers["x-proxy-cache"] == "miss"
    text, _ = content_of_stream(streamed)
    whole = chat(cached)
    assert whole.headers["x-proxy-cache"] == "hit" and whole.json()["choices"][0]["message"]["content"] == text
    with sdk(cached.url) as client:  # replayed as a stream: every chunk checked against OpenAI's schema
        chunks = list(
            client.chat.completions.create(
                model=MODEL,
                messages=HELLO,  # type: ignore[arg-type]
                temperature=0,
                max_tokens=64,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1  # in pieces
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].usage is not None
    assert len(fake.requests) == 1


def test_messages_and_responses_replay_as_their_own_streams(cached: ProxyServer, fake: FakeUpstream) -> None:
    with anthropic.Anthropic(base_url=cached.url, api_key="sk-x", max_retries=0) as claude:
        ask: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": HELLO, "extra_body": {"temperature": 0}}
        whole = claude.messages.with_raw_response.create(**ask)
        assert whole.headers["x-proxy-cache"] == "miss"
        with claude.messages.stream(**ask) as stream:
            replayed = stream.get_final_message()
        assert replayed.content[0].text == whole.parse().content[0].text  # type: ignore[union-attr]
        assert replayed.stop_reason == "end_turn" and replayed.usage.output_tokens > 0
    with sdk(cached.url) as client:  # Responses events checked one by one against their schemas
        first = client.responses.create(model=MODEL, input="Tell me about caches", temperature=0)
        with client.responses.stream(model=MODEL, input="Tell me about caches", temperature=0) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_response()
    assert final.output_text == first.output_text and final.id != first.id
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") > 1
    assert len(fake.requests) == 2  # one each for Messages and Responses


def test_embeddings_are_cached_per_input(cached: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(cached.url) as client:
        first = client.embeddings.create(model=EMBED, input=["alpha", "beta", "gamma"], encoding_format="float")
        raw = client.embeddings.with_raw_response.create(
            model=EMBED, input=["delta", "beta", "alpha", "epsilon", "gamma"], encoding_format="float"
        )
    assert raw.headers["x-proxy-cache"] == "miss" and raw.headers["x-proxy-cache-hits"] == "3/5"
    assert [r.body["text"] for r in fake.requests] == [["alpha", "beta", "gamma"], ["delta", "epsilon"]]
    second = raw.parse()
    assert [d.index for d in second.data] == [0, 1, 2, 3, 4]
    by_text = {"alpha": first.data[0].embedding, "beta": first.data[1].embedding, "gamma": first.data[2].embedding}
    for text, position in (("beta", 1), ("alpha", 2), ("gamma", 4)):
        assert second.data[position].embedding == by_text[text]  # the miss answered the float32 values it kept
    again = httpx.post(cached.url + "/v1/embeddings", json={"model": EMBED, "input": ["gamma", "delta"]})
    assert again.headers["x-proxy-cache"] == "hit" and len(fake.requests) == 2


def test_what_is_never_cached(cached: ProxyServer, fake: FakeUpstream) -> None:
    sampled = [chat(cached, temperature=0.7) for _ in range(2)]  # random sampling
    assert [r.headers["x-proxy-cache"] for r in sampled] == ["bypass", "bypass"] and len(fake.requests) == 2
    assert [chat(cached, seed=7).headers["x-proxy-cache"] for _ in range(2)] == ["miss", "hit"]  # a seed: cached
    fake.script(Reply(500, envelope_error(3043, "Internal server error")))
    assert chat(cached, max_tokens=33).status_code >= 500  # an error
    assert chat(cached, max_tokens=33).headers["x-proxy-cache"] == "miss"
    cut = [chat(cached, max_tokens=3) for _ in range(2)]  # `length`
    assert [r.json()["choices"][0]["finish_reason"] for r in cut] == ["length", "length"]
    assert [r.headers["x-proxy-cache"] for r in cut] == ["miss", "miss"]


def test_a_request_with_images_from_urls_is_not_cached() -> None:
    cache = ReplyCache(MemoryCache(1 << 20, time.monotonic), ttl=60)
    remote = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    inline = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    route = Route(MODEL, MODEL)
    for part, cacheable in ((remote, False), (inline, True)):
        messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, part]}]
        request = ChatCompletionRequest.model_validate({"model": MODEL, "messages": messages, "temperature": 0})
        assert (cache.chat_slot(request, route, Exchange("r", "chat", 0.0)) is not None) is cacheable


def test_a_cancelled_stream_is_not_cached(cached: ProxyServer, fake: FakeUpstream) -> None:
    release = threading.Event()  # the upstream holds the rest of its answer until the client has gone
    fake.script(Reply(chunks=[f'data: {{"response": "tok{i} "}}\n\n'.encode() for i in range(3)], hold=release))
    body = {"model": MODEL, "messages": HELLO, "temperature": 0, "max_tokens": 50, "stream": True}
    with httpx.stream("POST", cached.url + "/v1/chat/completions", json=body, timeout=30) as reply:
        for _ in reply.iter_bytes():
            break  # the client leaves at the first frame
    release.set()
    assert chat(cached, max_tokens=50, stream=True).headers["x-proxy-cache"] == "miss"


def test_no_cache_no_store_and_ttl(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    wall = Wall()  # the entries' clock
    cached = start_proxy(proxy_cache="on", seams=Seams(wall_clock=wall))
    assert chat(cached, {"Cache-Control": "no-store"}).headers["x-proxy-cache"] == "miss"
    assert chat(cached).headers["x-proxy-cache"] == "miss"  # nothing was kept
    assert chat(cached).headers["x-proxy-cache"] == "hit"
    assert chat(cached, {"Cache-Control": "no-cache"}).headers["x-proxy-cache"] == "miss"  # looked past the entry
    assert len(fake.requests) == 3
    assert chat(cached, {"x-proxy-cache-ttl": "1"}, max_tokens=40).headers["x-proxy-cache"] == "miss"
    assert chat(cached, max_tokens=40).headers["x-proxy-cache"] == "hit"
    wall.now += 1.5  # past the entry's one-second TTL
    assert chat(cached, max_tokens=40).headers["x-proxy-cache"] == "miss"
    bad = chat(cached, {"x-proxy-cache-ttl": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cache_ttl"


@pytest.mark.parametrize(("scope", "second"), [("global", "hit"), ("key", "miss")])
def test_entries_per_key(start_proxy: StartProxy, fake: FakeUpstream, scope: str, second: str) -> None:
    server = start_proxy(proxy_cache="on", proxy_cache_scope=scope, proxy_api_keys=["sk-one", "sk-two"])
    assert chat(server, {"Authorization": "Bearer sk-one"}).headers["x-proxy-cache"] == "miss"
    assert chat(server, {"Authorization": "Bearer sk-two"}).headers["x-proxy-cache"] == second
    assert chat(server, {"Authorization": "Bearer sk-one"}).headers["x-proxy-cache"] == "hit"


def test_hits_cost_nothing_in_the_ledger_and_show_in_the_metrics(
    cached: ProxyServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    for _ in range(3):
        chat(cached)
    httpx.get(cached.url + "/v1/usage", headers={"Authorization": "Bearer sk-admin"})  # writes the ledger out
    rows = sqlite3.connect(tmp_path / "state.sqlite3").execute("SELECT cache_hit, neurons FROM usage").fetchall()
    assert sorted(rows)[0][0] == 0 and sorted(rows)[0][1] > 0
    assert [row for row in rows if row[0]] == [(1, 0.0), (1, 0.0)]
    metrics = httpx.get(cached.url + "/metrics").text
    assert 'proxy_cache_requests_total{endpoint="chat",result="hit"} 2.0' in metrics
    assert 'proxy_cache_requests_total{endpoint="chat",result="miss"} 1.0' in metrics


@pytest.fixture(autouse=True)
def _fresh(fake: FakeUpstream) -> Iterator[None]:
    yield


def test_text_completions_are_cached_too(cached: ProxyServer, fake: FakeUpstream) -> None:
    with sdk(cached.url) as client:
        whole = client.completions.with_raw_response.create(model=MODEL, prompt="Say hi", temperature=0, max_tokens=64)
        chunks = list(
            client.completions.create(model=MODEL, prompt="Say hi", temperature=0, max_tokens=64, stream=True)
        )
        echoed = client.completions.with_raw_response.create(
            model=MODEL, prompt="Say hi", temperature=0, max_tokens=64, echo=True
        )
    assert whole.headers["x-proxy-cache"] == "miss" and echoed.headers["x-proxy-cache"] == "miss"
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.parse().choices[0].text
    assert echoed.parse().choices[0].text == "Say hi" + whole.parse().choices[0].text
    assert len(fake.requests) == 2  # the stream was a hit


def test_a_stop_sequence_is_replayed(cached: ProxyServer, fake: FakeUpstream) -> None:
    """An answer the proxy cut at a stop sequence says so again when it comes from the cache, streamed too."""
    with anthropic.Anthropic(base_url=cached.url, api_key="sk-x", max_retries=0) as claude:
        ask: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "Hello"}],
            "stop_sequences": ["reply"],
            "extra_body": {"temperature": 0},
        }
        first = claude.messages.with_raw_response.create(**ask)
        with claude.messages.stream(**ask) as stream:
            replayed = stream.get_final_message()
    assert first.headers["x-proxy-cache"] == "miss" and first.parse().stop_reason == "stop_sequence"
    assert replayed.stop_reason == "stop_sequence" and replayed.stop_sequence == "reply"
    assert len(fake.requests) == 1


def test_the_embedded_cache_can_outlive_a_restart(start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path) -> None:
    settings: dict[str, Any] = {"proxy_cache": "on", "proxy_cache_persist": True}
    first = start_proxy(proxy_state_path=tmp_path / "state.sqlite3", **settings)
    assert chat(first).headers["x-proxy-cache"] == "miss"
    embed = {"model": EMBED, "input": ["kept", "across"]}
    assert httpx.post(first.url + "/v1/embeddings", json=embed).headers["x-proxy-cache"] == "miss"
    first.stop()  # saved next to the state database
    assert (tmp_path / "state-cache.sqlite3").exists()
    second = start_proxy(proxy_state_path=tmp_path / "state.sqlite3", **settings)
    assert chat(second).headers["x-proxy-cache"] == "hit"
    assert httpx.post(second.url + "/v1/embeddings", json=embed).headers["x-proxy-cache"] == "hit"
    assert len(fake.requests) == 2
    third = start_proxy(proxy_state_path=tmp_path / "other.sqlite3", **settings)  # another state: another cache
    assert chat(third).headers["x-proxy-cache"] == "miss"


def test_pass_through_tenants_never_share_answers() -> None:
    """In pass-through mode each client's own Cloudflare token is its tenant: the key carries it, whatever the
    scope (the fake upstream knows one token, so this is checked on the keys themselves)."""
    cache = ReplyCache(MemoryCache(1 << 20, time.monotonic), ttl=60)
    route = Route(MODEL, MODEL)
    request = ChatCompletionRequest.model_validate({"model": MODEL, "messages": HELLO, "temperature": 0})

    def key(identity: Identity) -> str:
        exchange = Exchange("r", "chat", 0.0)
        exchange.identity = identity
        slot = cache.chat_slot(request, route, exchange)
        assert slot is not None
        return slot.key

    one, two = pass_through("cf-token-one"), pass_through("cf-token-two")
    assert key(one) == key(pass_through("cf-token-one")) != key(two)
    assert key(Identity("key-1", "server-token")) == key(Identity("key-2", "server-token"))  # global: shared
