"""A hostile (or broken) upstream: oversized and compressed replies, endless SSE lines, odd headers and
error bodies. The proxy stays responsive, bounded in memory, and answers each with a clean error."""

from __future__ import annotations

import asyncio
import gc
import json
import time

import aiohttp
import httpx

from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, envelope_error, sse
from tests.raw_upstream import RawUpstream
from tests.streams import json_frames

MODEL = "@cf/meta/llama-3.1-8b-instruct"
ASK = [{"role": "user", "content": "Hello"}]
CHAT = {"model": MODEL, "messages": ASK}


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
        assert all("stalled" in json_frames(body)[-1]["error"]["message"] for body in bodies)
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
    error = response.json()["error"]
    assert error["code"] == "upstream_error" and "more than 200 times" in error["message"]
    assert len(fake.requests) == 1
    assert httpx.get(server.url + "/health").status_code == 200


def test_gzip_bombs_on_a_stream_end_it_with_an_error_frame(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """A bomb of one endless line hits the event limit; a bomb of small, valid-looking lines the ratio bound."""
    import zlib

    server = start_proxy()
    zeros = _zero_bomb(64)
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    comments = packer.compress(sse({"response": "a "}) + (b": " + b"k" * 4000 + b"\n") * 20_000) + packer.flush()
    for bomb, said in ((zeros, "PROXY_MAX_STREAM_EVENT_BYTES"), (comments, "more than 200 times")):
        chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
        fake.script(Reply(chunks=chunks, headers={"Content-Encoding": "gzip"}))
        response = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=60)
        assert response.status_code == 200
        error = json_frames(response.text)[-1]["error"]
        assert error["code"] == "upstream_error" and said in error["message"]
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
    text = "".join((f["choices"][0]["delta"].get("content") or "") for f in json_frames(streamed) if f.get("choices"))
    assert text == "".join(f"t{i} " for i in range(50))
    assert fake.requests[0].headers.get("Accept-Encoding") == "gzip, deflate"


def test_an_encoding_the_proxy_did_not_ask_for_is_a_502(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy()
    fake.script(Reply(body=b"\x1b\x00\x00", headers={"Content-Encoding": "br"}))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    error = response.json()["error"]
    assert response.status_code == 502 and error["code"] == "upstream_error" and "(br)" in error["message"]


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
    last = json_frames(response.text)[-1]
    assert last["error"]["code"] == "upstream_error" and "PROXY_MAX_STREAM_EVENT_BYTES" in last["error"]["message"]
    assert response.text.rstrip().endswith("data: [DONE]")


# -- odd errors and headers ------------------------------------------------------------------------
def test_success_false_on_http_200_is_retried_on_plain_requests_too(
    start_proxy: StartProxy, fake: FakeUpstream
) -> None:
    server = start_proxy(proxy_max_retries=2, proxy_retry_base_delay=0.01)
    busy = Reply(200, envelope_error(3040, "Capacity temporarily exceeded, please try again."))
    fake.script(busy, busy)
    reply = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]
    fake.script(busy)
    embedded = httpx.post(server.url + "/v1/embeddings", json={"model": "@cf/baai/bge-small-en-v1.5", "input": "a"})
    assert embedded.status_code == 200 and len(embedded.json()["data"][0]["embedding"]) == 384
    assert len(fake.requests) == 5


def test_retry_after_values_are_parsed_and_sanitized(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """Negative, NaN or garbage values are not relayed; an HTTP-date becomes whole seconds (and is honoured:
    one 120 s away is passed to the client instead of waited for)."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    server = start_proxy(proxy_max_retries=3, proxy_retry_base_delay=0.01)
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    limited = [
        Reply(429, envelope_error(2003, "Rate limited"), headers={"Retry-After": v}) for v in ("-5", "NaN", "soon")
    ]
    fake.script(
        *[r for r in limited for _ in range(4)],
        Reply(429, envelope_error(2003, "Rate limited"), headers={"Retry-After": later}),
    )
    for _ in limited:
        response = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
        assert response.status_code == 429 and "retry-after" not in response.headers
    before = len(fake.requests)
    dated = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    assert dated.status_code == 429 and 100 <= int(dated.headers["retry-after"]) <= 120
    assert len(fake.requests) == before + 1  # not retried: the upstream asked for two minutes
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    fake.script(Reply(429, envelope_error(2003, "Rate limited"), headers={"Retry-After": soon}))
    started = time.monotonic()
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=30).status_code == 200
    assert time.monotonic() - started >= 1.0, "an HTTP-date Retry-After was not honoured"


def test_a_relayed_gateway_header_with_a_control_character_is_dropped(start_proxy: StartProxy) -> None:
    """Regression: an upstream `cf-aig-*` header the HTTP server cannot write made the proxy send nothing."""
    bad = b"cf-aig-log-id: ok-123\r\ncf-aig-event-id: a\x01b\r\ncf-aig-step: x\x7fy\r\n"
    answer = b'{"result": {"response": "hi"}, "success": true}'
    events = sse({"response": "hi"}) + sse(b"[DONE]")
    plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + bad
    plain += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(answer) + answer
    streamed = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + bad
    streamed += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(events) + events
    with RawUpstream(plain, streamed) as raw:
        server = start_proxy(cloudflare_gateway_id="gw-main", cloudflare_gateway_base=raw.base_url)
        whole = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
        assert whole.status_code == 200 and whole.headers["cf-aig-log-id"] == "ok-123"
        assert "cf-aig-event-id" not in whole.headers and "cf-aig-step" not in whole.headers
        stream = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": True})
        assert stream.status_code == 200 and stream.headers["cf-aig-log-id"] == "ok-123"
        assert "cf-aig-event-id" not in stream.headers and stream.text.rstrip().endswith("[DONE]")


def test_an_html_431_is_a_client_error_that_never_opens_the_breaker(
    start_proxy: StartProxy, fake: FakeUpstream
) -> None:
    server = start_proxy(proxy_breaker_threshold=1)
    page = b"<html><head><title>431 Request Header Fields Too Large</title></head><body>cloudflare-nginx</body></html>"
    fake.script(*[Reply(431, body=page, content_type="text/html")] * 2)
    for _ in range(2):
        response = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
        assert response.status_code == 431 and response.json()["error"]["type"] == "invalid_request_error"
        assert "<html>" not in response.text
    assert httpx.post(server.url + "/v1/chat/completions", json=CHAT).status_code == 200


def test_a_502_names_neither_the_upstream_url_nor_its_bytes(start_proxy: StartProxy) -> None:
    """A reply that is not valid HTTP: the client learns that; the account id and raw bytes stay in the log."""
    from tests.fake_upstream import ACCOUNT

    broken = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Bytes: \x00\xfe RAW-UPSTREAM-BYTES\r\n\r\nhello"
    with RawUpstream(broken) as raw:
        server = start_proxy(cloudflare_api_base=raw.base_url)
        for body in (CHAT, {**CHAT, "stream": True}):
            response = httpx.post(server.url + "/v1/chat/completions", json=body)
            assert response.status_code == 502, response.text
            for secret in (ACCOUNT, "RAW-UPSTREAM", "127.0.0.1", "/client/v4"):
                assert secret not in response.text
