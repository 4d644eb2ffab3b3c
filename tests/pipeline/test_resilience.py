"""Fault injection: the real server against a fake upstream that misbehaves on command.

Each test starts its own proxy with retries, breakers and timeouts set short enough to watch them work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, emulated_text, envelope_error, sse
from tests.streams import data_payloads, delta_contents

MODEL = "@cf/meta/llama-3.1-8b-instruct"
BIG = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
PROMPT = "Hello"
ASK = [{"role": "user", "content": PROMPT}]
CHAT = {"model": MODEL, "messages": ASK}
FAST = {"proxy_max_retries": 3, "proxy_retry_base_delay": 0.01, "proxy_breaker_threshold": 100}


_clients: list[openai.OpenAI] = []


def sdk(url: str) -> openai.OpenAI:
    client = openai_schema.sdk(url)
    _clients.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Each test's SDK clients are closed with it, not whenever the garbage collector finds their sockets."""
    yield
    while _clients:
        _clients.pop().close()


def stream_text(response: httpx.Response) -> tuple[list[dict[str, Any]], bool]:
    """The data frames of an SSE reply, and whether it ended with [DONE]."""
    import json

    frames = data_payloads(response.text)
    done = bool(frames) and frames[-1] == "[DONE]"
    return [json.loads(f) for f in frames if f != "[DONE]"], done


# -- retries ---------------------------------------------------------------------------------------
def test_rate_limited_then_success_is_retried(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST)
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded"), headers={"Retry-After": "1"}))
    started = time.monotonic()
    reply = sdk(server.url).chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == emulated_text(MODEL, PROMPT)
    assert len(fake.requests) == 2
    assert time.monotonic() - started >= 1.0, "Retry-After was not honoured"


def test_server_error_storm_gives_up_after_the_retries(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST)
    fake.script(*[Reply(503, envelope_error(1000, "Service unavailable")) for _ in range(10)])
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(server.url).chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert len(fake.requests) == 4  # the first attempt and PROXY_MAX_RETRIES=3 retries


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(400, envelope_error(5006, "AiError: Bad input")), 400),
        (Reply(401, envelope_error(10000, "Authentication error")), 401),
        (Reply(429, envelope_error(4006, "AiError: you have used up your daily free allocation")), 429),
    ],
    ids=["client-error", "auth", "daily-quota"],
)
def test_what_cannot_succeed_is_not_retried(
    start_proxy: StartProxy, fake: FakeUpstream, reply: Reply, status: int
) -> None:
    server = start_proxy(**FAST)
    fake.script(reply, Reply(json={"result": {"response": "should not be asked"}, "success": True}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert response.status_code == status and len(fake.requests) == 1
    if status == 429:
        assert 0 < int(response.headers["retry-after"]) <= 86400  # the seconds until 00:00 UTC


def test_connection_errors_are_retried(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST)
    fake.script(Reply(drop=True), Reply(drop=True))
    reply = sdk(server.url).chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == emulated_text(MODEL, PROMPT) and len(fake.requests) == 3


def test_streams_are_retried_only_before_the_first_byte(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST)
    fake.script(
        Reply(503, envelope_error(1000, "busy")),
        Reply(chunks=[sse({"response": "partial "})], drop_after_chunks=True),
    )
    response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30)
    frames, done = stream_text(response)
    assert len(fake.requests) == 2  # the 503 was retried; the cut stream was not
    assert "".join(delta_contents(response.text)) == "partial "
    assert "error" in frames[-1] and done


def test_a_retry_after_beyond_the_budget_is_passed_on_not_waited_for(
    start_proxy: StartProxy, fake: FakeUpstream
) -> None:
    server = start_proxy(**FAST, proxy_total_timeout=3)
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded"), headers={"Retry-After": "20"}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert response.status_code == 429 and response.headers["retry-after"] == "20"
    assert len(fake.requests) == 1  # answered at once: no retry was waited for


# -- timeouts ------------------------------------------------------------------------------------
def test_connect_timeout_is_retried_then_a_504(start_proxy: StartProxy) -> None:
    """A listener whose accept queue is full: the SYN goes unanswered, as with a black-holed route."""
    import socket

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        port = hole.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            server = start_proxy(
                **{**FAST, "proxy_max_retries": 2},
                cloudflare_api_base=f"http://127.0.0.1:{port}/client/v4",
                proxy_connect_timeout=0.4,
            )
            started = time.monotonic()
            response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30)
            took = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
    assert took > 1.1  # three attempts of 0.4 s each


def test_hang_before_headers_is_a_504(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_first_byte_timeout=0.5)
    fake.script(Reply(json={"result": {"response": "late"}, "success": True}, delay=3))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30)
    # the reply would have come (a 200) after 3 s: the 504 is the first-byte bound's
    assert response.status_code == 504 and response.json()["error"]["type"] == "timeout_error"
    assert len(fake.requests) == 1  # not retried


def test_stream_hang_before_headers_is_a_504(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_first_byte_timeout=0.5)
    fake.script(Reply(chunks=[sse({"response": "late"}), sse(b"[DONE]")], delay=3))
    response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30)
    assert response.status_code == 504


def test_stalled_stream_ends_with_an_error_frame(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_idle_timeout=0.5)
    fake.script(Reply(chunks=[sse({"response": "a "}), sse({"response": "b "}), sse(b"[DONE]")], chunk_delay=3))
    with pytest.raises(openai.APIError, match="stalled"):  # the next chunk would have come after 3 s
        for _ in sdk(server.url).chat.completions.create(model=MODEL, messages=ASK, stream=True):  # type: ignore[arg-type]
            pass


def test_total_timeout_ends_a_long_stream(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_total_timeout=1.0)
    fake.script(Reply(chunks=[sse({"response": f"t{i} "}) for i in range(100)], chunk_delay=0.1))
    response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30)
    frames, done = stream_text(response)
    assert "PROXY_TOTAL_TIMEOUT" in frames[-1]["error"]["message"] and done
    assert 5 <= len(frames) < 20


def test_cut_mid_stream_and_malformed_events_end_with_error_frames(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST)
    fake.script(
        Reply(chunks=[sse({"response": "a "}), sse({"response": "b "})], drop_after_chunks=True),
        Reply(chunks=[sse({"response": "a "}), b"data: \x00\xff{{{\n\n", sse(b"[DONE]")]),
    )
    for _ in range(2):
        response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True})
        frames, done = stream_text(response)
        assert "".join(delta_contents(response.text)).startswith("a ") and "error" in frames[-1] and done


# -- fallbacks and breakers ----------------------------------------------------------------------
def test_fallback_serves_when_retries_are_used_up(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_fallbacks={BIG: [MODEL]})
    fake.script(*[Reply(503, envelope_error(1000, "Service unavailable")) for _ in range(4)])
    raw = sdk(server.url).chat.completions.with_raw_response.create(model=BIG, messages=ASK)  # type: ignore[arg-type]
    reply = raw.parse()
    assert reply.model == MODEL and raw.headers["x-served-model"] == MODEL
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests] == ["llama-3.3-70b-instruct-fp8-fast"] * 4 + [
        "llama-3.1-8b-instruct"
    ]


def test_a_model_with_fallbacks_asks_to_be_rejected_if_busy_and_hands_over_at_once(
    start_proxy: StartProxy, fake: FakeUpstream
) -> None:
    """options.rejectIfBusy (wire spec 9.6): a busy model answers 3040 at once instead of queueing the request at
    Cloudflare, and its fallback serves: no retries on the busy model."""
    server = start_proxy(**FAST, proxy_fallbacks={BIG: [MODEL]})
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded, please try again.")))
    reply = sdk(server.url).chat.completions.create(model=BIG, messages=ASK)  # type: ignore[arg-type]
    assert reply.model == MODEL
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests] == [BIG.rsplit("/", 1)[1], MODEL.rsplit("/", 1)[1]]
    assert fake.requests[0].body["options"] == {"rejectIfBusy": True}
    assert "options" not in fake.requests[1].body  # the last model in the chain may wait in the queue


def test_reject_if_busy_for_every_model_retries_as_usual(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_reject_if_busy=True)
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded, please try again.")))
    assert sdk(server.url).chat.completions.create(model=MODEL, messages=ASK).choices  # type: ignore[arg-type]
    assert len(fake.requests) == 2 and all(r.body["options"] == {"rejectIfBusy": True} for r in fake.requests)


def test_streams_fall_back_too(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**{**FAST, "proxy_max_retries": 1}, proxy_fallbacks={BIG: [MODEL]})
    fake.script(*[Reply(502, envelope_error(1000, "bad gateway")) for _ in range(2)])
    chunks = list(
        sdk(server.url).chat.completions.create(model=BIG, messages=ASK, stream=True)  # type: ignore[arg-type]
    )
    assert {chunk.model for chunk in chunks} == {MODEL}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == emulated_text(MODEL, PROMPT)
    assert len(fake.requests) == 3


def test_fallback_is_not_used_for_client_errors(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**FAST, proxy_fallbacks={BIG: [MODEL]})
    fake.script(Reply(400, envelope_error(5006, "AiError: Bad input")))
    response = httpx.post(server.url + "/v1/chat/completions", json={"model": BIG, "messages": ASK})
    assert response.status_code == 400 and len(fake.requests) == 1


def test_circuit_breaker_fails_fast_then_probes(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_retries=0, proxy_breaker_threshold=3, proxy_breaker_cooldown=0.5)
    fake.script(*[Reply(502, envelope_error(1000, "bad gateway")) for _ in range(3)])
    for _ in range(3):
        assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 502
    fast = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    assert fast.status_code == 503 and fast.json()["error"]["code"] == "circuit_open"
    assert "retry-after" in fast.headers and len(fake.requests) == 3  # no upstream call while open
    time.sleep(0.6)
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200  # the probe
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200  # closed again


def test_a_probe_answered_with_a_client_error_closes_the_breaker(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_retries=0, proxy_breaker_threshold=1, proxy_breaker_cooldown=0.3)
    fake.script(Reply(502, envelope_error(1000, "bad gateway")), Reply(400, envelope_error(5006, "AiError: Bad input")))
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 502
    time.sleep(0.4)
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 400  # the probe: upstream alive
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200


def test_open_breaker_falls_back(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_retries=0, proxy_breaker_threshold=1, proxy_fallbacks={BIG: [MODEL]})
    fake.script(Reply(503, envelope_error(1000, "busy")))
    first = httpx.post(server.url + "/v1/chat/completions", json={"model": BIG, "messages": ASK})
    assert first.status_code == 200 and first.json()["model"] == MODEL  # 503, then the fallback
    second = httpx.post(server.url + "/v1/chat/completions", json={"model": BIG, "messages": ASK})
    assert second.json()["model"] == MODEL
    assert [r.path.endswith(MODEL) for r in fake.requests] == [False, True, True]  # BIG's breaker is open


def test_pass_through_tenants_do_not_share_breakers(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """Regression: one tenant's own rate limit opened the model's breaker, and every other tenant got 503
    `circuit_open`. A caller's 401/403/429 never counts against the upstream; in pass-through mode even the
    upstream failures one tenant sees open only that tenant's breaker."""
    from tests.fake_upstream import TOKEN

    server = start_proxy(cloudflare_api_token=None, proxy_breaker_threshold=2, proxy_breaker_cooldown=60)
    other = {"Authorization": "Bearer other-tenants-token"}
    own = {"Authorization": f"Bearer {TOKEN}"}
    limited = Reply(429, envelope_error(2003, "Rate limited"), headers={"Retry-After": "1"})
    fake.script(limited, limited, limited, Reply(401, envelope_error(10000, "Authentication error")))
    for _ in range(4):
        assert httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=other).status_code in (429, 401)
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=own).status_code == 200
    # upstream failures: the tenant that saw them is failed fast, the other one is still served
    fake.script(*[Reply(502, envelope_error(1000, "bad gateway"))] * 2)
    for _ in range(2):
        assert httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=other).status_code == 502
    fast = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=other)
    assert fast.status_code == 503 and fast.json()["error"]["code"] == "circuit_open"
    assert "other-tenants-token" not in fast.text
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers=own).status_code == 200


def test_a_server_tokens_rate_limits_do_not_open_the_breaker(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_breaker_threshold=1)
    fake.script(*[Reply(429, envelope_error(3040, "Capacity temporarily exceeded"))] * 3)
    for _ in range(3):
        assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 429
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200


# -- load ----------------------------------------------------------------------------------------
def test_concurrency_limit_queues_then_sheds(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_concurrency=1, proxy_queue_timeout=0.3)
    fake.script(Reply(chunks=[sse({"response": f"t{i} "}) for i in range(20)] + [sse(b"[DONE]")], chunk_delay=0.1))

    async def scenario() -> tuple[httpx.Response, int, float]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            async with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as holding:
                chunks = holding.aiter_bytes()
                await chunks.__anext__()  # the stream holds the only slot
                started = time.monotonic()
                shed = await client.post("/v1/chat/completions", json=CHAT)
                waited = time.monotonic() - started
                async for _ in chunks:
                    pass
            after = await client.post("/v1/chat/completions", json=CHAT)
        return shed, after.status_code, waited

    shed, after, waited = asyncio.run(scenario())
    assert shed.status_code == 503 and shed.headers["retry-after"] and waited > 0.25
    assert shed.json()["error"]["code"] == "overloaded"
    assert after == 200


def test_soak_of_concurrent_streams_leaks_nothing(fake: FakeUpstream, tmp_path: Any) -> None:
    """500 concurrent streams a wave against the console script, a fifth of them stalled until the idle timeout
    ends them: all end as they should, and the proxy's open files and memory return to where they were.
    (tests/test_hostile_upstream.py counts live upstream responses after timed-out streams: the finer check.)"""
    from tests.console import RunningProxy, clean_env
    from tests.fake_upstream import ACCOUNT, TOKEN

    env = clean_env(
        CLOUDFLARE_ACCOUNT_ID=ACCOUNT,
        CLOUDFLARE_API_TOKEN=TOKEN,
        CLOUDFLARE_API_BASE=fake.base_url,
        PROXY_LOG_LEVEL="warning",
        PROXY_IDLE_TIMEOUT="0.3",
    )
    stalled = Reply(chunks=[sse({"response": "a "}), sse({"response": "b "}), sse(b"[DONE]")], chunk_delay=3)

    async def wave(url: str) -> list[str]:
        fake.script(*[stalled] * 100)
        limits = httpx.Limits(max_connections=600, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

            async def one() -> str:
                response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True, "max_tokens": 8})
                return response.text

            return await asyncio.gather(*(one() for _ in range(500)))

    def check(bodies: list[str]) -> None:
        assert all(body.rstrip().endswith("data: [DONE]") for body in bodies)
        timed_out = [body for body in bodies if '"error"' in body]
        assert len(timed_out) == 100 and all("stalled" in body for body in timed_out)
        assert all(
            emulated_text(MODEL, PROMPT, 8).strip() in "".join(delta_contents(body))
            for body in bodies
            if body not in timed_out
        )

    with RunningProxy(cwd=tmp_path, env=env) as proxy:
        pid = proxy.process.pid
        check(asyncio.run(wave(proxy.url)))  # warm-up: pools and caches reach their working size
        time.sleep(0.5)
        fds_before, rss_before = _fds(pid), _rss_mb(pid)
        for _ in range(2):  # a leak grows with every wave; the pools' working size does not
            check(asyncio.run(wave(proxy.url)))
            time.sleep(0.5)
            # keep-alive upstream connections come and go by a few; one leaked per stream would be +500
            assert _fds(pid) <= fds_before + 25, "file descriptors leaked"
            assert _rss_mb(pid) <= rss_before * 1.25 + 5, "memory grew"


def _fds(pid: int) -> int:
    import os

    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
