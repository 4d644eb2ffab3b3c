"""The usage ledger through the real server: every request of every endpoint settles into it exactly once (whole
replies, streams, a stream the client left, failures, the bridges), with tokens and neurons; `GET /v1/usage` totals
it for PROXY_ADMIN_KEY only; it survives a restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from app.models.prices import RATES, neurons
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, envelope_error
from tests.openai_schema import sdk
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
EMBED = "@cf/baai/bge-base-en-v1.5"
ADMIN = "sk-admin-0123456789abcdef"
HELLO = [{"role": "user", "content": "Hello"}]


def usage(server: ProxyServer, key: str | None = ADMIN, **query: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(server.url + "/v1/usage", params=query, headers=headers)


def totals(server: ProxyServer, group_by: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    reply = usage(server, group_by=group_by)
    assert reply.status_code == 200, reply.text
    groups = group_by.split(",")
    return {tuple(row[g] for g in groups): row for row in reply.json()["data"]}


def test_every_endpoint_settles_once(start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path) -> None:
    server = start_proxy(proxy_admin_key=ADMIN, proxy_state_path=tmp_path / "state.sqlite3")
    with sdk(server.url) as client:
        whole = client.chat.completions.create(model=LLAMA, messages=HELLO, max_tokens=8)  # type: ignore[arg-type]
        chunks = list(
            client.chat.completions.create(
                model=LLAMA, messages=HELLO, max_tokens=8, stream=True, stream_options={"include_usage": True}
            )  # type: ignore[call-overload]
        )
        client.completions.create(model=LLAMA, prompt="Say hi", max_tokens=8)
        client.embeddings.create(model=EMBED, input=["one", "two"])
        client.responses.create(model=LLAMA, input="Hi", max_output_tokens=8)
        fake.script(Reply(500, envelope_error(3043, "Internal server error")))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
    with anthropic.Anthropic(base_url=server.url, api_key="sk-x", max_retries=0) as claude:
        claude.messages.create(model=LLAMA, max_tokens=8, messages=HELLO)  # type: ignore[arg-type]
    by_endpoint = totals(server, "endpoint")
    assert {k[0]: v["requests"] for k, v in by_endpoint.items()} == {
        "chat": 3,
        "completions": 1,
        "embeddings": 1,
        "responses": 1,
        "messages": 1,
    }
    assert by_endpoint[("chat",)]["errors"] == 1
    chat = by_endpoint[("chat",)]
    assert whole.usage is not None and chunks[-1].usage is not None
    assert chat["input_tokens"] == whole.usage.prompt_tokens + chunks[-1].usage.prompt_tokens
    assert chat["output_tokens"] == whole.usage.completion_tokens + chunks[-1].usage.completion_tokens
    rate = RATES[LLAMA]
    expected = neurons(rate, whole.usage.model_dump()) + neurons(rate, chunks[-1].usage.model_dump())  # type: ignore[arg-type]
    assert chat["neurons"] == pytest.approx(expected, abs=0.01)
    by_model = totals(server, "key,model")
    assert by_model[("open", LLAMA)]["requests"] == 6 and by_model[("open", EMBED)]["requests"] == 1
    restarted = start_proxy(proxy_admin_key=ADMIN, proxy_state_path=tmp_path / "state.sqlite3")
    assert totals(restarted, "endpoint") == by_endpoint  # the ledger survives a restart


def test_a_stream_the_client_left_is_charged_what_was_generated(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_admin_key=ADMIN)
    pieces = [f'data: {{"response": "tok{i} "}}\n\n'.encode() for i in range(5)]
    release = threading.Event()
    fake.script(Reply(chunks=[*pieces], hold=release))
    body = {"model": LLAMA, "messages": HELLO, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=30) as reply:
        for _ in reply.iter_bytes():
            break  # the client leaves after the first frame
    deadline = time.monotonic() + 20
    while True:
        rows = usage(server, group_by="endpoint").json()["data"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    release.set()
    (row,) = rows
    assert row["requests"] == 1 and row["errors"] == 1 and row["output_tokens"] >= 1


def test_only_the_admin_key_reads_usage(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_admin_key=ADMIN, proxy_api_keys=["sk-team-0123456789"])
    assert usage(server, None).status_code == 401
    refused = usage(server, "sk-team-0123456789")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"
    assert usage(server, group_by="key,planet").status_code == 400
    assert usage(server, start="yesterday").status_code == 400
    closed = start_proxy()
    assert usage(closed).status_code == 403 and usage(closed).json()["error"]["code"] == "admin_disabled"


def test_retries_and_fallbacks_settle_once_on_the_model_that_served(
    start_proxy: StartProxy, fake: FakeUpstream, tmp_path: Path
) -> None:
    small = "@cf/meta/llama-3.1-8b-instruct"
    server = start_proxy(
        proxy_admin_key=ADMIN,
        proxy_max_retries=2,
        proxy_retry_base_delay=0.01,
        proxy_breaker_threshold=100,
        proxy_fallbacks={LLAMA: [small]},
    )
    busy = Reply(503, envelope_error(1000, "Service unavailable"))
    fake.script(busy)  # one retry, then served by the model asked
    assert httpx.post(server.url + "/v1/chat/completions", json={"model": LLAMA, "messages": HELLO}).status_code == 200
    fake.script(busy, busy, busy)  # retries used up: the fallback serves, streamed
    body = {"model": LLAMA, "messages": HELLO, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as streamed:
        assert streamed.status_code == 200 and streamed.headers["x-served-model"] == small
        streamed.read()
    assert len(fake.requests) == 6  # 2 + 4 upstream calls, two requests
    deadline = time.monotonic() + 20
    by_model = totals(server, "model")
    while sum(row["requests"] for row in by_model.values()) < 2:
        assert time.monotonic() < deadline  # the stream settles as it ends: wait for that, however long it takes
        time.sleep(0.05)
        by_model = totals(server, "model")
    assert {k[0]: (v["requests"], v["errors"]) for k, v in by_model.items()} == {LLAMA: (1, 0), small: (1, 0)}
