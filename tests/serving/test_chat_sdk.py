"""Chat completions through the real server, judged by the official `openai` SDK."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from tests.fake_upstream import ACCOUNT, TOKEN, FakeUpstream, Reply, emulated_text, sse

MODEL = "@cf/meta/llama-3.1-8b-instruct"
PROMPT = "Say hello"
HELLO = [{"role": "user", "content": PROMPT}]


def test_non_stream_reply_has_openai_shape(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=50)  # type: ignore[arg-type]
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == MODEL
    assert abs(reply.created - time.time()) < 60
    assert len(reply.choices) == 1
    choice = reply.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == emulated_text(MODEL, PROMPT)
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    tokens = len(emulated_text(MODEL, PROMPT).split())
    assert (reply.usage.completion_tokens, reply.usage.total_tokens) == (tokens, reply.usage.prompt_tokens + tokens)


def test_upstream_request_is_the_native_run_call(client: openai.OpenAI, fake: FakeUpstream) -> None:
    client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        ],
        max_completion_tokens=33,
        temperature=0.2,
        top_p=0.9,
        seed=7,
        frequency_penalty=0.5,
        presence_penalty=0.25,
        user="someone",
        extra_body={"top_k": 5, "repetition_penalty": 1.1, "some_future_field": {"x": 1}},
    )
    sent = fake.last
    assert sent.method == "POST"
    assert sent.path == f"/client/v4/accounts/{ACCOUNT}/ai/run/{MODEL}"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.body == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one\ntwo"}],
        "max_tokens": 33,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.25,
        "repetition_penalty": 1.1,
    }


def test_default_max_tokens_is_sent_when_the_client_gives_none(client: openai.OpenAI, fake: FakeUpstream) -> None:
    client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert fake.last.body["max_tokens"] == 4096


def test_alias_resolves_and_reply_echoes_the_alias(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
    assert fake.last.path.endswith(f"/ai/run/{MODEL}")
    assert reply.model == "gpt-4o-mini"


def test_finish_reason_is_length_when_the_budget_is_used_up(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5)  # type: ignore[arg-type]
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == emulated_text(MODEL, PROMPT, 5)


def test_stream_text_equals_non_stream_text(client: openai.OpenAI, fake: FakeUpstream) -> None:
    plain = client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert fake.last.body["stream"] is True
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert {c.created for c in chunks} == {chunks[0].created}
    assert {c.model for c in chunks} == {MODEL}
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert all(c.usage is None for c in chunks)


def test_stream_usage_chunk_comes_last_when_asked(client: openai.OpenAI, fake: FakeUpstream) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,  # type: ignore[arg-type]
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens == 4
    assert last.usage.total_tokens == last.usage.prompt_tokens + 4
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"


def test_stream_is_relayed_as_the_upstream_produces_it(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """The first token reaches the client while the upstream still holds the rest back: nothing is buffered."""
    hold = threading.Event()
    pieces = [sse({"response": f"t{i} "}) for i in range(4)]
    fake.script(Reply(chunks=[*pieces, sse(b"[DONE]")], hold=hold))
    received = []
    for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):  # type: ignore[arg-type]
        if chunk.choices and chunk.choices[0].delta.content:
            received.append((chunk.choices[0].delta.content, hold.is_set()))
            hold.set()  # only now may the upstream send the rest
    assert received == [("t0 ", False), ("t1 ", True), ("t2 ", True), ("t3 ", True)]


def test_stream_cut_before_done_raises_in_the_client(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "partial "}), sse({"response": "answer"})]))
    received = []
    with pytest.raises(openai.APIError, match="ended before \\[DONE\\]"):
        for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):  # type: ignore[arg-type]
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["partial ", "answer"]


def test_openai_shaped_upstream_chunks_and_quirks(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """Padding, numeric tokens, CRLF, repeated finish frames, OpenAI-shaped chunks, a second [DONE]."""
    body = (
        b'data: {"response":"A","p":"abc"}\r\n\r\n'
        b'data: {"response":1}\r\n\r\n'
        b'data: {"tool_calls":[],"p":"xyz"}\n\n'
        b'data: {"choices":[{"delta":{"content":" B"},"finish_reason":null,"index":0}],"usage":{"prompt_tokens":3,'
        b'"completion_tokens":1,"total_tokens":4}}\n\n'
        b'data: {"choices":[{"delta":{},"finish_reason":"stop","index":0}]}\n\n'
        b'data: {"response":"","finish_reason":"stop"}\n\n'
        b'data: {"response":"","usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}\n\n'
        b"data: [DONE]\n\ndata: [DONE]\n\n"
    )
    fake.script(Reply(chunks=[body[i : i + 7] for i in range(0, len(body), 7)]))
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "A1 B"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6


def test_json_reply_to_a_stream_request_is_replayed_as_a_stream(client: openai.OpenAI, fake: FakeUpstream) -> None:
    result = {"response": "whole answer", "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}}
    fake.script(Reply(json={"result": result, "success": True, "errors": [], "messages": []}))
    chunks = list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "whole answer"


def test_json_mode_object_response_becomes_json_text(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json={"result": {"response": {"name": "India", "capital": "New Delhi"}}, "success": True}))
    reply = client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == '{"name":"India","capital":"New Delhi"}'


def test_chat_completions_object_result_from_newer_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    result = {
        "id": "4bb2",
        "object": "chat.completion",
        "created": 1,
        "model": "@cf/google/gemma-4-26b-a4b-it-external",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi!"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "neurons": 1.7},
    }
    fake.script(Reply(json={"result": result, "success": True, "errors": [], "messages": []}))
    reply = client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Hi!"
    assert reply.model == MODEL
    assert reply.usage is not None and reply.usage.total_tokens == 7


def test_stream_without_upstream_usage_still_ends_with_a_usage_chunk(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "a"}), sse({"response": "b"}), sse(b"[DONE]")]))
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=HELLO,  # type: ignore[arg-type]
            max_tokens=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    assert chunks[-2].choices[0].finish_reason == "length"


def test_client_disconnect_closes_the_upstream_stream(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": f"t{i} "}) for i in range(1000)], chunk_delay=0.05))  # 50 s long
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)  # type: ignore[arg-type]
    for _, _chunk in zip(range(3), stream, strict=False):
        pass
    stream.close()
    for _ in range(1500):  # waiting for an event: the fake notices the close at its next write
        if fake.disconnects:
            break
        time.sleep(0.02)
    assert fake.disconnects, "the upstream stream was left running after the client went away"


def test_compressed_upstream_reply_is_decoded(client: openai.OpenAI, fake: FakeUpstream) -> None:
    import gzip

    import orjson

    payload = {"result": {"response": "zipped answer"}, "success": True, "errors": [], "messages": []}
    fake.script(Reply(body=gzip.compress(orjson.dumps(payload)), headers={"Content-Encoding": "gzip"}))
    reply = client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "zipped answer"
