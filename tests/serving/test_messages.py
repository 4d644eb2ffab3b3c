"""Anthropic's Messages API through the real server, with the official `anthropic` SDK as the client: whole
messages, streams in Anthropic's exact event order, a tool loop, thinking, Anthropic's own tools, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, emulated_text, envelope_error, sse
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # legacy replies, flat tools
GPT_OSS = "@cf/openai/gpt-oss-120b"  # OpenAI-shaped replies with reasoning
HELLO = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}


@pytest.fixture()
def claude(proxy: ProxyServer, fake: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=proxy.url, api_key="sk-anything", max_retries=0) as client:
        yield client


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of every frame of a raw Messages stream."""
    out = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def check_order(frames: list[tuple[str, dict[str, Any]]]) -> None:
    """Anthropic's grammar: message_start, blocks started / delta'd / stopped with increasing unshared indices,
    message_delta, message_stop."""
    names = [name for name, _ in frames]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"], names
    open_index, next_index = None, 0
    for name, data in frames[1:-2]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index, frames
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index, frames
        elif name == "content_block_stop":
            assert data["index"] == open_index, frames
            open_index = None
        else:
            assert name == "ping", name
    assert open_index is None


def test_a_message_whole(claude: anthropic.Anthropic, fake: FakeUpstream) -> None:
    message = claude.messages.create(model=LLAMA, max_tokens=256, messages=HELLO, system="Be brief.")  # type: ignore[arg-type]
    assert message.id.startswith("msg_") and message.type == "message" and message.role == "assistant"
    assert message.model == LLAMA and message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == emulated_text(LLAMA, "Hello there")  # type: ignore[union-attr]
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message._request_id and message._request_id.startswith("req_")
    sent = fake.last.body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."} and sent["max_tokens"] == 256


def test_a_message_streamed_in_anthropics_order(proxy: ProxyServer, claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model=LLAMA, max_tokens=256, messages=HELLO) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == emulated_text(LLAMA, "Hello there") and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    raw = httpx.post(
        proxy.url + "/v1/messages", json={"model": LLAMA, "max_tokens": 256, "messages": HELLO, "stream": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    check_order(events(raw.text))


def test_max_tokens_is_the_stop_reason_when_the_budget_is_spent(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model=LLAMA, max_tokens=3, messages=HELLO)  # type: ignore[arg-type]
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def test_a_tool_loop(claude: anthropic.Anthropic, fake: FakeUpstream) -> None:
    """The emulator calls the first offered tool; its result goes back as a tool message."""
    asked = claude.messages.create(model=LLAMA, max_tokens=256, tools=[WEATHER], messages=HELLO)  # type: ignore[arg-type,list-item]
    assert asked.stop_reason == "tool_use"
    (use,) = asked.content
    assert use.type == "tool_use" and use.name == "get_weather" and isinstance(use.input, dict)
    history = [
        *HELLO,
        {"role": "assistant", "content": [block.model_dump() for block in asked.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}]},
    ]
    answered = claude.messages.create(model=LLAMA, max_tokens=256, tools=[WEATHER], messages=history)  # type: ignore[arg-type,list-item]
    assert answered.stop_reason == "end_turn" and answered.content[0].type == "text"
    sent = fake.last.body["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == use.id and sent[-1]["content"] == "Sunny, 21 C"
    assert sent[-2]["role"] == "assistant" and sent[-2]["tool_calls"][0]["id"] == use.id


def test_a_streamed_tool_call_is_one_tool_use_block(proxy: ProxyServer) -> None:
    body = {"model": LLAMA, "max_tokens": 256, "messages": HELLO, "tools": [WEATHER], "stream": True}
    frames = events(httpx.post(proxy.url + "/v1/messages", json=body).text)
    check_order(frames)
    starts = [data["content_block"] for name, data in frames if name == "content_block_start"]
    assert [block["type"] for block in starts] == ["tool_use"] and starts[0]["name"] == "get_weather"
    partial = "".join(data["delta"]["partial_json"] for name, data in frames if name == "content_block_delta")
    assert isinstance(json.loads(partial), dict)
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_reasoning_is_a_thinking_block_before_the_text(claude: anthropic.Anthropic, fake: FakeUpstream) -> None:
    def chunk(delta: dict[str, Any]) -> bytes:
        return sse({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})

    fake.script(Reply(chunks=[chunk({"reasoning_content": "Add them."}), chunk({"content": "4"}), sse(b"[DONE]")]))
    with claude.messages.stream(
        model=GPT_OSS,
        max_tokens=256,
        messages=[{"role": "user", "content": "2+2?"}],
        thinking={"type": "enabled", "budget_tokens": 2048},
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Add them." and final.content[1].text == "4"  # type: ignore[union-attr]
    assert fake.last.body["reasoning_effort"] == "low"  # a 2k budget


def test_anthropics_own_tools_are_left_out_and_named(proxy: ProxyServer, fake: FakeUpstream) -> None:
    body = {"model": LLAMA, "max_tokens": 64, "messages": HELLO, "tools": [WEATHER, WEB_SEARCH]}
    reply = httpx.post(proxy.url + "/v1/messages", json=body)
    assert reply.status_code == 200 and reply.headers["x-proxy-ignored-tools"] == "web_search"
    assert [tool["name"] for tool in fake.last.body["tools"]] == ["get_weather"]
    forced = httpx.post(
        proxy.url + "/v1/messages", json={**body, "tool_choice": {"type": "tool", "name": "web_search"}}
    )
    assert forced.status_code == 400
    assert (
        forced.json()["error"]["type"] == "invalid_request_error" and "web_search" in forced.json()["error"]["message"]
    )


def test_errors_take_anthropics_shape(claude: anthropic.Anthropic, proxy: ProxyServer, fake: FakeUpstream) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-model", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert missing.value.request_id and missing.value.request_id.startswith("req_")
    no_budget = httpx.post(proxy.url + "/v1/messages", json={"model": LLAMA, "messages": HELLO})
    assert no_budget.status_code == 400 and no_budget.json()["type"] == "error"
    assert "max_tokens" in no_budget.json()["error"]["message"]
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded")))
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model=LLAMA, max_tokens=5, messages=HELLO)  # type: ignore[arg-type]


def test_keys_are_read_from_x_api_key(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_api_keys=["sk-team-key-0123456789"])
    with anthropic.Anthropic(base_url=server.url, api_key="sk-team-key-0123456789", max_retries=0) as client:
        assert client.messages.create(model=LLAMA, max_tokens=8, messages=HELLO).content  # type: ignore[arg-type]
    with (
        anthropic.Anthropic(base_url=server.url, api_key="wrong", max_retries=0) as client,
        pytest.raises(anthropic.AuthenticationError),
    ):
        client.messages.create(model=LLAMA, max_tokens=8, messages=HELLO)  # type: ignore[arg-type]


def test_a_failure_mid_stream_is_an_error_event(proxy: ProxyServer, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "partial "})], drop_after_chunks=True))
    body = {"model": LLAMA, "max_tokens": 64, "messages": HELLO, "stream": True}
    frames = events(httpx.post(proxy.url + "/v1/messages", json=body).text)
    assert frames[0][0] == "message_start" and frames[-1][0] == "error"
    assert frames[-1][1]["type"] == "error" and frames[-1][1]["error"]["type"] == "api_error"


def test_count_tokens_is_an_estimate(claude: anthropic.Anthropic) -> None:
    short = claude.messages.count_tokens(model=LLAMA, messages=HELLO)  # type: ignore[arg-type]
    long = claude.messages.count_tokens(model=LLAMA, messages=[{"role": "user", "content": "word " * 400}])  # type: ignore[arg-type]
    assert 0 < short.input_tokens < long.input_tokens


def test_the_base_url_answers_a_probe(proxy: ProxyServer) -> None:
    """Claude Code sends `HEAD /` before its first request."""
    assert httpx.head(proxy.url + "/").status_code == 200
    assert httpx.get(proxy.url + "/").json()["anthropic"] == "/v1/messages"


def test_system_turns_in_the_conversation_become_user_text(proxy: ProxyServer, fake: FakeUpstream) -> None:
    """Claude Code sends a `system` turn after the user's: one system message first, then alternating roles."""
    body = {
        "model": LLAMA,
        "max_tokens": 32,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "List the files"}]},
            {"role": "system", "content": "<system-reminder>cwd is /tmp</system-reminder>"},
        ],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": []},
        "output_config": {"effort": "medium"},
    }
    assert httpx.post(proxy.url + "/v1/messages", json=body).status_code == 200
    sent = fake.last.body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert sent[1]["content"] == "List the files\n\n<system-reminder>cwd is /tmp</system-reminder>"


def test_a_matched_stop_sequence_is_the_stop_reason(claude: anthropic.Anthropic, proxy: ProxyServer) -> None:
    """The proxy enforces stop sequences where Workers AI does not, so it knows which one matched."""
    message = claude.messages.create(model=LLAMA, max_tokens=256, messages=HELLO, stop_sequences=["nope", "reply"])  # type: ignore[arg-type]
    assert message.content[0].text == "Emulated "  # type: ignore[union-attr]
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "reply"
    with claude.messages.stream(model=LLAMA, max_tokens=256, messages=HELLO, stop_sequences=["reply"]) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "reply"
    unmatched = claude.messages.create(model=LLAMA, max_tokens=256, messages=HELLO, stop_sequences=["zzz"])  # type: ignore[arg-type]
    assert unmatched.stop_reason == "end_turn" and unmatched.stop_sequence is None
