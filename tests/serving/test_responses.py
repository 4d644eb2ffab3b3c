"""OpenAI's Responses API through the real server, with the official `openai` SDK as the client and every reply and
stream event checked against OpenAI's schema: whole responses and streams in OpenAI's event order, function-calling
loops with and without `previous_response_id`, reasoning, structured output, stored responses, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, emulated_text, envelope_error, sse
from tests.openai_schema import sdk
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # legacy replies, flat tools
GPT_OSS = "@cf/openai/gpt-oss-120b"  # OpenAI-shaped replies with reasoning
GLM = "@cf/zai-org/glm-5.3"  # a model that wants its earlier reasoning back
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEB_SEARCH = {"type": "web_search"}
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


@pytest.fixture()
def client(proxy: ProxyServer, fake: FakeUpstream) -> Iterator[openai.OpenAI]:
    with sdk(proxy.url) as client:
        yield client


def events(text: str) -> list[dict[str, Any]]:
    """Every event of a raw Responses stream, its `event:` name checked against its `type`."""
    out = []
    for frame in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line and not line.startswith(":"))
        if "data" in lines:
            data = json.loads(lines["data"])
            assert lines.get("event") == data["type"], frame
            out.append(data)
    return out


def check_sequence(stream: list[dict[str, Any]]) -> None:
    """OpenAI's grammar: created, in_progress, items added and done in order, one terminal event, numbered 0..n."""
    assert [e["sequence_number"] for e in stream] == list(range(len(stream)))
    kinds = [e["type"] for e in stream]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] in TERMINAL and sum(kind in TERMINAL for kind in kinds) == 1, kinds
    added = [e["output_index"] for e in stream if e["type"] == "response.output_item.added"]
    done = sorted(e["output_index"] for e in stream if e["type"] == "response.output_item.done")
    assert added == list(range(len(added)))
    if kinds[-1] != "response.failed":
        assert done == added and len(stream[-1]["response"]["output"]) == len(added)


def stream_of(proxy: ProxyServer, **body: Any) -> list[dict[str, Any]]:
    reply = httpx.post(proxy.url + "/v1/responses", json={**body, "stream": True}, timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    found = events(reply.text)
    check_sequence(found)
    return found


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return sse({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def test_a_response_whole(client: openai.OpenAI, fake: FakeUpstream) -> None:
    response = client.responses.create(
        model=LLAMA, input="Hello there", instructions="Be brief.", max_output_tokens=256
    )
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    assert response.model == LLAMA and [item.type for item in response.output] == ["message"]
    assert response.output_text == emulated_text(LLAMA, "Hello there")
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    sent = fake.last.body
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."} and sent["max_tokens"] == 256
    assert sent["messages"][1] == {"role": "user", "content": "Hello there"}


@pytest.mark.parametrize("model", [LLAMA, GPT_OSS, GLM])
def test_a_response_streamed_in_openais_order(proxy: ProxyServer, client: openai.OpenAI, model: str) -> None:
    with client.responses.stream(model=model, input="Hello there") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == emulated_text(model, "Hello there")
    assert len(deltas) > 1  # token by token, not buffered
    assert final.status == "completed" and final.usage is not None and final.usage.output_tokens > 0
    kinds = [event["type"] for event in stream_of(proxy, model=model, input="Hello there")]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


@pytest.mark.parametrize("model", [LLAMA, GPT_OSS, GLM])
@pytest.mark.parametrize("streamed", [False, True])
def test_a_function_calling_loop_with_previous_response_id(
    client: openai.OpenAI, fake: FakeUpstream, model: str, streamed: bool
) -> None:
    """The emulator calls the first offered tool; its output goes back by `previous_response_id` alone."""

    def ask(**body: Any) -> Any:
        if not streamed:
            return client.responses.create(model=model, tools=[WEATHER], **body)  # type: ignore[arg-type]
        with client.responses.stream(model=model, tools=[WEATHER], **body) as stream:  # type: ignore[arg-type]
            return stream.get_final_response()

    asked = ask(input="Weather in Paris?")
    (call,) = asked.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id
    assert isinstance(json.loads(call.arguments), dict) and asked.status == "completed"
    answered = ask(
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}],
    )
    assert answered.status == "completed" and answered.output_text and answered.previous_response_id == asked.id
    sent = fake.last.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[0]["content"] == "Weather in Paris?"
    assert (
        sent[1]["tool_calls"][0]["id"] == call.call_id and sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    )
    assert sent[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "Sunny, 21 C"}


def test_a_function_calling_loop_without_stored_state(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """`store: false`, the client sends the whole conversation back, its output items included."""
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    asked = client.responses.create(model=GPT_OSS, tools=[WEATHER], input=history, store=False)  # type: ignore[arg-type,list-item]
    (call,) = [item for item in asked.output if item.type == "function_call"]
    history += [item.model_dump(exclude_none=True) for item in asked.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"})
    answered = client.responses.create(model=GPT_OSS, tools=[WEATHER], input=history, store=False)  # type: ignore[arg-type]
    assert answered.output_text
    assert [m["role"] for m in fake.last.body["messages"]] == ["user", "assistant", "tool"]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(asked.id)  # not stored


def test_streamed_function_call_events(proxy: ProxyServer) -> None:
    stream = stream_of(proxy, model=LLAMA, input="Weather?", tools=[WEATHER])
    added = [e["item"] for e in stream if e["type"] == "response.output_item.added"]
    assert [item["type"] for item in added] == ["function_call"] and added[0]["name"] == "get_weather"
    deltas = "".join(e["delta"] for e in stream if e["type"] == "response.function_call_arguments.delta")
    (done,) = [e for e in stream if e["type"] == "response.function_call_arguments.done"]
    assert done["arguments"] == deltas and isinstance(json.loads(deltas), dict)
    final = stream[-1]["response"]["output"][0]
    assert final["call_id"] == added[0]["call_id"] and final["arguments"] == deltas


def test_reasoning_is_an_item_before_the_message_and_goes_back(
    client: openai.OpenAI, proxy: ProxyServer, fake: FakeUpstream
) -> None:
    reasoned = [chunk({"reasoning_content": "Add "}), chunk({"reasoning_content": "them."}), chunk({"content": "4"})]
    fake.script(Reply(chunks=[*reasoned, sse(b"[DONE]")]))
    with client.responses.stream(model=GLM, input="2+2?", reasoning={"effort": "low"}) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert fake.last.body["reasoning_effort"] == "low"
    assert [item.type for item in final.output] == ["reasoning", "message"] and final.output_text == "4"
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.content and reasoning.content[0].text == "Add them."
    assert kinds.count("response.reasoning_text.delta") == 2 and "response.reasoning_text.done" in kinds
    client.responses.create(model=GLM, previous_response_id=final.id, input="And 3+3?")
    sent = fake.last.body["messages"]
    assert sent[1] == {"role": "assistant", "content": "4", "reasoning_content": "Add them."}
    assert sent[2] == {"role": "user", "content": "And 3+3?"}


def test_reasoning_travels_in_encrypted_content_without_a_store(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """Codex: `store: false` and `include: ["reasoning.encrypted_content"]`; the reasoning comes back sealed."""
    fake.script(Reply(chunks=[chunk({"reasoning_content": "Think."}), chunk({"content": "Done"}), sse(b"[DONE]")]))
    with client.responses.stream(model=GLM, input="Go", store=False, include=["reasoning.encrypted_content"]) as stream:
        final = stream.get_final_response()
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    replay = [item.model_dump(exclude_none=True) for item in final.output]
    replay[0].pop("content")  # what Codex keeps of a reasoning item: its id, summary and sealed content
    client.responses.create(
        model=GLM, input=[{"role": "user", "content": "Go"}, *replay, {"role": "user", "content": "More"}]
    )  # type: ignore[list-item]
    assert fake.last.body["messages"][1]["reasoning_content"] == "Think."


def test_the_token_budget_makes_it_incomplete(client: openai.OpenAI, proxy: ProxyServer) -> None:
    response = client.responses.create(model=LLAMA, input="Hello there", max_output_tokens=3)
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens" and response.usage.output_tokens == 3  # type: ignore[union-attr]
    stream = stream_of(proxy, model=LLAMA, input="Hello there", max_output_tokens=3)
    assert stream[-1]["type"] == "response.incomplete"
    assert stream[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_mid_stream_is_response_failed(proxy: ProxyServer, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "partial "})], drop_after_chunks=True))
    stream = stream_of(proxy, model=LLAMA, input="Hello")
    failed = stream[-1]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["error"]["code"] == "server_error" and failed["response"]["error"]["message"]


def test_structured_output_with_responses_parse(client: openai.OpenAI, fake: FakeUpstream) -> None:
    class City(BaseModel):
        name: str
        population: int

    parsed = client.responses.parse(model=GPT_OSS, input="Name a city", text_format=City)
    assert isinstance(parsed.output_parsed, City)
    with client.responses.stream(model=GPT_OSS, input="Name a city", text_format=City) as stream:
        streamed = stream.get_final_response()  # JSON mode does not stream upstream: replayed as events
    assert isinstance(streamed.output_parsed, City)
    sent = fake.last.body["response_format"]
    schema = sent["json_schema"].get("schema", sent["json_schema"])  # the route's spelling
    assert sent["type"] == "json_schema" and schema["required"] == ["name", "population"]
    as_object = client.responses.create(model=GPT_OSS, input="JSON please", text={"format": {"type": "json_object"}})
    assert isinstance(json.loads(as_object.output_text), dict)


def test_hosted_tools_are_left_out_and_named(proxy: ProxyServer, fake: FakeUpstream) -> None:
    body = {"model": LLAMA, "input": "Hi", "tools": [WEATHER, WEB_SEARCH]}
    reply = httpx.post(proxy.url + "/v1/responses", json=body)
    assert reply.status_code == 200 and reply.headers["x-proxy-ignored-tools"] == "web_search"
    assert [tool.get("name") or tool["function"]["name"] for tool in fake.last.body["tools"]] == ["get_weather"]
    forced = httpx.post(proxy.url + "/v1/responses", json={**body, "tool_choice": {"type": "web_search"}})
    assert forced.status_code == 400 and forced.json()["error"]["param"] == "tool_choice"
    assert "web_search" in forced.json()["error"]["message"]


def test_what_codex_sends_is_accepted(proxy: ProxyServer, fake: FakeUpstream) -> None:
    body = {
        "model": GPT_OSS,
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "cwd is /tmp"}]},
        ],
        "tools": [
            {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}, "strict": False},
            {
                "type": "custom",
                "name": "apply_patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "x"},
            },
            {"type": "web_search", "external_web_access": False},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a-session",
        "client_metadata": {"x": "y"},
        "text": {"verbosity": "low"},
    }
    reply = httpx.post(proxy.url + "/v1/responses", json=body, timeout=30)
    assert reply.status_code == 200 and reply.headers["x-proxy-ignored-tools"] == "apply_patch,web_search"
    check_sequence(events(reply.text))
    sent = fake.last.body
    assert sent["messages"][0] == {"role": "system", "content": "You are Codex.\n\nSandbox: read-only"}
    assert sent["messages"][1] == {"role": "user", "content": "List the files\n\ncwd is /tmp"}
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["shell"] and sent["parallel_tool_calls"] is False


def test_stored_responses_are_retrieved_listed_and_deleted(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model=LLAMA, input=[{"role": "user", "content": "One"}, {"role": "user", "content": "Two"}]
    )
    assert client.responses.retrieve(first.id).output_text == first.output_text
    items = client.responses.input_items.list(first.id, order="asc")
    assert [item.content[0].text for item in items.data] == ["One", "Two"]  # type: ignore[union-attr]
    page = client.responses.input_items.list(first.id, limit=1)
    assert [item.content[0].text for item in page.data] == ["Two"] and page.has_more  # type: ignore[union-attr]
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model=LLAMA, input="Hi", previous_response_id=first.id)
    assert missing.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_a_key_sees_only_its_own_responses(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_api_keys=["sk-alice-0123456789", "sk-bob-0123456789"])
    with sdk(server.url, "sk-alice-0123456789") as alice, sdk(server.url, "sk-bob-0123456789") as bob:
        _only_own(alice, bob)


def _only_own(alice: openai.OpenAI, bob: openai.OpenAI) -> None:
    kept = alice.responses.create(model=LLAMA, input="Secret plans")
    assert alice.responses.retrieve(kept.id).id == kept.id
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model=LLAMA, input="Hi", previous_response_id=kept.id)


def test_errors_take_openais_shape(client: openai.OpenAI, proxy: ProxyServer, fake: FakeUpstream) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="Hi")
    for body, param in [
        ({"input": "Hi"}, "model"),
        ({"model": LLAMA, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, None),
        ({"model": LLAMA, "input": [{"role": "robot", "content": "Hi"}]}, "input[0].role"),
        ({"model": LLAMA, "input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": LLAMA, "input": "Hi", "tools": [WEATHER], "tool_choice": {"type": "function"}}, "tool_choice.name"),
    ]:
        reply = httpx.post(proxy.url + "/v1/responses", json=body)
        assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error", body
        if param is not None:
            assert reply.json()["error"]["param"] == param
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded")))
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=LLAMA, input="Hi")


def test_input_tokens_are_an_estimate(client: openai.OpenAI) -> None:
    short = client.responses.input_tokens.count(model=LLAMA, input="Hi")
    long = client.responses.input_tokens.count(model=LLAMA, input="word " * 400, tools=[WEATHER])  # type: ignore[list-item]
    assert short.object == "response.input_tokens" and 0 < short.input_tokens < long.input_tokens
    kept = client.responses.create(model=LLAMA, input="word " * 200)
    continued = client.responses.input_tokens.count(model=LLAMA, input="Hi", previous_response_id=kept.id)
    assert continued.input_tokens > short.input_tokens  # the stored conversation counts


def test_the_store_is_bounded_in_bytes(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_responses_max_bytes=4000)
    with sdk(server.url) as client:
        small = client.responses.create(model=LLAMA, input="Hi")
        assert client.responses.retrieve(small.id).id == small.id
        big = client.responses.create(model=LLAMA, input="word " * 1000)  # more than the whole store: not kept
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(big.id)


def test_function_call_arguments_sent_as_an_object_are_carried(client: openai.OpenAI, fake: FakeUpstream) -> None:
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}
    output = {"type": "function_call_output", "call_id": "call_1", "output": "Cold"}
    client.responses.create(model=LLAMA, input=[{"role": "user", "content": "Weather?"}, call, output], tools=[WEATHER])  # type: ignore[list-item]
    assert fake.last.body["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Oslo"}'
