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


# -- oversized and compressed replies --------------------------------------------------------------
def _gzip(data: bytes) -> bytes:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def _zero_bomb(decoded_mib: int) -> bytes:
    """gzip of `decoded_mib` MiB of zeros: about a thousandth of that on the wire."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(decoded_mib)) + packer.flush()


def test_gzip_bomb_on_a_plain_request_is_a_502_and_not_retried(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_retries=3, proxy_retry_base_delay=0.01)
    fake.script(Reply(body=_zero_bomb(256), headers={"Content-Encoding": "gzip"}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_reply_unusable"
    assert len(fake.requests) == 1
    assert httpx.get(server.url + "/health").status_code == 200


def test_gzip_bombs_on_a_stream_end_it_with_an_error_frame(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """A bomb of one endless line hits the event limit; a bomb of small, valid-looking lines the ratio bound."""
    import zlib

    server = start_proxy()
    zeros = _zero_bomb(64)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    comments = packer.compress(sse({"response": "a "}) + (b": " + b"k" * 4000 + b"\n") * 20_000) + packer.flush()
    for bomb, code in ((zeros, "upstream_event_too_large"), (comments, "upstream_reply_unusable")):
        chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
        fake.script(Reply(chunks=chunks, headers={"Content-Encoding": "gzip"}))
        response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=60)
        assert response.status_code == 200
        assert frames_of(response.text)[-1]["error"]["code"] == code
        assert response.text.rstrip().endswith("data: [DONE]")


def test_compressed_replies_are_decoded(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """gzip (and deflate) as Cloudflare may send them when asked: plain and streamed, split anywhere."""
    import zlib

    server = start_proxy()
    answer = {"result": {"response": "compressed hello"}, "success": True, "errors": []}
    stream = b"".join(sse({"response": f"t{i} "}) for i in range(50)) + sse(b"[DONE]")
    gz = _gzip(stream)
    fake.script(
        Reply(body=_gzip(json.dumps(answer).encode()), headers={"Content-Encoding": "gzip"}),
        Reply(body=zlib.compress(json.dumps(answer).encode()), headers={"Content-Encoding": "deflate"}),
        Reply(chunks=[gz[i : i + 7] for i in range(0, len(gz), 7)], headers={"Content-Encoding": "gzip"}),
    )
    for _ in range(2):
        reply = httpx.post(server.url + "/v1/chat/completions", json=CHAT).json()
        assert reply["choices"][0]["message"]["content"] == "compressed hello"
    streamed = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}).text
    text = "".join((f["choices"][0]["delta"].get("content") or "") for f in frames_of(streamed) if f.get("choices"))
    assert text == "".join(f"t{i} " for i in range(50))
    assert fake.requests[0].headers.get("Accept-Encoding") == "gzip, deflate"


def test_an_encoding_the_proxy_did_not_ask_for_is_a_502(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy()
    fake.script(Reply(body=b"\x1b\x00\x00", headers={"Content-Encoding": "br"}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_reply_unusable"


def test_a_reply_over_the_size_limit_is_a_502_and_not_retried(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_reply_bytes=64 * 1024, proxy_max_retries=3, proxy_retry_base_delay=0.01)
    huge = {"result": {"response": "x" * 1_000_000}, "success": True}
    fake.script(
        Reply(json=huge),
        Reply(chunks=[b'{"result": {"response": "', b"y" * 500_000, b'"}}'], content_type="application/json"),
    )
    for _ in range(2):  # declared length, and a chunked body counted while it is read
        response = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
        assert response.status_code == 502, response.text
        assert "PROXY_MAX_REPLY_BYTES" in response.json()["error"]["message"]
    assert len(fake.requests) == 2


def test_an_endless_sse_line_ends_the_stream_at_the_event_limit(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_stream_event_bytes=256 * 1024)
    endless = [sse({"response": "a "}), b'data: {"response": "'] + [b"z" * 65536] * 100
    fake.script(Reply(chunks=endless))
    response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=30)
    last = frames_of(response.text)[-1]
    assert (
        last["error"]["code"] == "upstream_event_too_large"
        and "PROXY_MAX_STREAM_EVENT_BYTES" in last["error"]["message"]
    )
    assert response.text.rstrip().endswith("data: [DONE]")
