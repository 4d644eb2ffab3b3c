"""Function calling through the real server with the `openai` SDK: requests, replies, streams, history."""

from __future__ import annotations

import json
from typing import Any

import openai
import orjson
import pytest

from tests.fake_upstream import FakeUpstream, Reply, sse

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # flat tools, legacy replies
GPT_OSS = "@cf/openai/gpt-oss-120b"  # OpenAI-shaped tools and options
HERMES = "@hf/nousresearch/hermes-2-pro-mistral-7b"  # writes <tool_call> text
MISTRAL = "@cf/mistralai/mistral-small-3.1-24b-instruct"  # 9-character tool call ids
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def legacy_tool_reply(arguments: Any) -> Reply:
    usage = {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}
    return Reply(
        json=envelope(
            {"response": None, "tool_calls": [{"name": "get_weather", "arguments": arguments}], "usage": usage}
        )
    )


def collect_stream(chunks: list[Any]) -> tuple[str, dict[int, dict[str, str]], list[str | None]]:
    """Text, tool calls by index (id, name, arguments) and finish reasons, as an SDK user assembles them."""
    text, calls, finishes = "", {}, []
    for chunk in chunks:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for piece in choice.delta.tool_calls or []:
                call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = piece.id or call["id"]
                if piece.function is not None:
                    call["name"] += piece.function.name or ""
                    call["arguments"] += piece.function.arguments or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return text, calls, finishes


# -- the request ---------------------------------------------------------------------------------
def test_flat_tools_for_legacy_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(legacy_tool_reply({"city": "Paris"}))
    client.chat.completions.create(model=LLAMA, messages=ASK, tools=[WEATHER, TIME], tool_choice="auto")  # type: ignore[arg-type,list-item]
    sent = fake.last.body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": WEATHER["function"]["parameters"],
        },  # type: ignore[index]
        {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in sent


def test_openai_tools_and_options_for_newer_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(legacy_tool_reply({"city": "Paris"}))
    client.chat.completions.create(
        model=GPT_OSS,
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    sent = fake.last.body
    assert sent["tools"] == [WEATHER]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False


def test_tool_choice_on_legacy_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "It is sunny."})), legacy_tool_reply({"city": "Paris"}))
    client.chat.completions.create(model=LLAMA, messages=ASK, tools=[WEATHER, TIME], tool_choice="none")  # type: ignore[arg-type,list-item]
    assert "tools" not in fake.last.body  # "none": the model is not shown the tools
    named = {"type": "function", "function": {"name": "get_weather"}}
    client.chat.completions.create(model=LLAMA, messages=ASK, tools=[WEATHER, TIME], tool_choice=named)  # type: ignore[arg-type,list-item]
    assert [t["name"] for t in fake.last.body["tools"]] == ["get_weather"]


@pytest.mark.parametrize("model", ["@cf/meta/llama-3.2-1b-instruct", "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"])
def test_models_without_function_calling_refuse_tools(client: openai.OpenAI, fake: FakeUpstream, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert caught.value.param == "tools"  # type: ignore[attr-defined]
    assert fake.requests == []


def test_tool_choice_must_name_an_offered_tool(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=LLAMA,
            messages=ASK,  # type: ignore[arg-type]
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )
    assert caught.value.param == "tool_choice"  # type: ignore[attr-defined]


# -- whole replies -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arguments",
    [{"city": "Paris"}, '{"city": "Paris"}', "{'city': 'Paris'}", json.dumps(json.dumps({"city": "Paris"}))],
    ids=["object", "string", "single-quoted", "double-encoded"],
)
def test_legacy_tool_calls_become_openai_tool_calls(client: openai.OpenAI, fake: FakeUpstream, arguments: Any) -> None:
    fake.script(legacy_tool_reply(arguments))
    reply = client.chat.completions.create(model=LLAMA, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


def test_tool_call_ids_are_unique(client: openai.OpenAI, fake: FakeUpstream) -> None:
    calls = [{"name": "get_weather", "arguments": {"city": c}} for c in ("Paris", "Rome")]
    fake.script(Reply(json=envelope({"response": None, "tool_calls": calls})))
    reply = client.chat.completions.create(model=LLAMA, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    ids = [c.id for c in reply.choices[0].message.tool_calls or []]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_openai_shaped_tool_calls_keep_their_ids(client: openai.OpenAI, fake: FakeUpstream) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "chatcmpl-tool-1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
            }
        ],
    }
    result = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}], "object": "chat.completion"}
    fake.script(Reply(json=envelope(result)))
    reply = client.chat.completions.create(model=GPT_OSS, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    (call,) = reply.choices[0].message.tool_calls or []
    assert call.id == "chatcmpl-tool-1" and json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "<tool_call>{'name': 'get_weather', 'arguments': {'city': 'Paris'}}</tool_call>",
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
        '{"name": "get_weather", "parameters": {"city": "Paris"}}',
    ],
    ids=["hermes", "hermes-single-quoted", "mistral", "llama-python-tag", "llama-bare-json"],
)
def test_tool_calls_written_as_text_are_parsed(client: openai.OpenAI, fake: FakeUpstream, text: str) -> None:
    fake.script(Reply(json=envelope({"response": text})))
    reply = client.chat.completions.create(model=HERMES, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


def test_plain_json_answers_are_not_mistaken_for_tool_calls(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": '{"name": "Paris", "country": "France"}'})))
    reply = client.chat.completions.create(model=HERMES, messages=ASK, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert reply.choices[0].message.content == '{"name": "Paris", "country": "France"}'
    assert reply.choices[0].finish_reason == "stop"


# -- streams -------------------------------------------------------------------------------------
def stream_tools(client: openai.OpenAI, model: str = LLAMA) -> tuple[str, dict[int, dict[str, str]], list[str | None]]:
    return collect_stream(list(client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER], stream=True)))  # type: ignore[arg-type,list-item]


def test_stream_whole_tool_call_at_the_end_is_rechunked(client: openai.OpenAI, fake: FakeUpstream) -> None:
    event = {"response": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    fake.script(
        Reply(
            chunks=[
                sse(event),
                sse({"response": "", "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}}),
                sse(b"[DONE]"),
            ]
        )
    )
    text, calls, finishes = stream_tools(client)
    assert text == "" and finishes == ["tool_calls"]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


def test_stream_incremental_tool_calls_drop_finalization_pieces(client: openai.OpenAI, fake: FakeUpstream) -> None:
    pieces = [
        {"tool_calls": [{"id": "t0", "index": 0, "function": {"name": "get_weather"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {"tool_calls": [{"id": None, "type": None, "index": 0, "function": {"name": None}}]},
        {"finish_reason": "tool_calls"},
    ]
    fake.script(Reply(chunks=[*(sse(p) for p in pieces), sse(b"[DONE]")]))
    _, calls, finishes = stream_tools(client, GPT_OSS)
    assert finishes == ["tool_calls"]
    assert calls == {0: {"id": "t0", "name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_stream_openai_chunk_tool_calls(client: openai.OpenAI, fake: FakeUpstream) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "object": "chat.completion.chunk"}
        )

    fake.script(
        Reply(
            chunks=[
                chunk({"role": "assistant", "content": ""}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ]
                    }
                ),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}),
                chunk({}, "tool_calls"),
                sse(b"[DONE]"),
            ]
        )
    )
    _, calls, finishes = stream_tools(client, GPT_OSS)
    assert calls == {0: {"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}}
    assert finishes == ["tool_calls"]


def test_stream_tool_call_text_is_parsed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    tokens = [text[i : i + 5] for i in range(0, len(text), 5)]
    fake.script(Reply(chunks=[*(sse({"response": t}) for t in tokens), sse(b"[DONE]")]))
    streamed_text, calls, finishes = stream_tools(client, HERMES)
    assert streamed_text == "" and finishes == ["tool_calls"]
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["arguments"]) == {"city": "Paris"}


def test_stream_plain_text_with_tools_is_relayed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    tokens = ["The ", "weather ", "is ", "nice."]
    fake.script(Reply(chunks=[*(sse({"response": t}) for t in tokens), sse(b"[DONE]")]))
    text, calls, finishes = stream_tools(client, HERMES)
    assert text == "The weather is nice." and calls == {} and finishes == ["stop"]


# -- the loop ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_full_tool_loop(client: openai.OpenAI, fake: FakeUpstream, stream: bool) -> None:
    messages: list[Any] = list(ASK)
    if stream:
        call_event = {"response": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
        fake.script(
            Reply(chunks=[sse(call_event), sse(b"[DONE]")]),
            Reply(chunks=[sse({"response": "It is "}), sse({"response": "18C in Paris."}), sse(b"[DONE]")]),
        )
        _, calls, _ = collect_stream(
            list(client.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER], stream=True))
        )  # type: ignore[list-item]
        tool_calls = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls.values()
        ]
    else:
        fake.script(legacy_tool_reply({"city": "Paris"}), Reply(json=envelope({"response": "It is 18C in Paris."})))
        first = client.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
        tool_calls = [c.model_dump() for c in first.choices[0].message.tool_calls or []]
    messages.append({"role": "assistant", "content": None, "tool_calls": tool_calls})
    messages.append({"role": "tool", "tool_call_id": tool_calls[0]["id"], "content": '{"temperature_c": 18}'})
    if stream:
        _, _, _ = collect_stream(
            list(client.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER], stream=True))
        )  # type: ignore[list-item]
    else:
        second = client.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER])  # type: ignore[list-item]
        assert second.choices[0].message.content == "It is 18C in Paris."
    history = fake.last.body["messages"]
    assert history[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": tool_calls[0]["id"],
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert history[2] == {"role": "tool", "content": '{"temperature_c": 18}', "tool_call_id": tool_calls[0]["id"]}


def test_mistral_gets_nine_character_tool_call_ids(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "Sunny."})))
    call = {
        "id": "call_0123456789abcdef01234567",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    messages = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    ]
    client.chat.completions.create(model=MISTRAL, messages=messages, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    history = fake.last.body["messages"]
    short = history[1]["tool_calls"][0]["id"]
    assert len(short) == 9 and short.isalnum() and history[2]["tool_call_id"] == short


def test_upstream_receives_valid_json_arguments_in_history(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "ok"})))
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{'city': 'Rome'}"}}
    messages = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "x"},
    ]
    client.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert orjson.loads(fake.last.body["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Rome"}


# -- the deprecated `functions` / `function_call` ----------------------------------------------------------
FUNCTION = WEATHER["function"]


def test_legacy_functions_are_sent_as_tools_and_answered_in_their_own_shape(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    """Regression: older LangChain and LlamaIndex agents send `functions`, which were silently ignored."""
    fake.script(legacy_tool_reply({"city": "Paris"}))
    reply = client.chat.completions.create(
        model=LLAMA,
        messages=ASK,
        functions=[FUNCTION],
        function_call={"name": "get_weather"},  # type: ignore[arg-type,list-item]
    )
    sent = fake.last.body
    assert sent["tools"][0]["name"] == "get_weather"  # flat tools for this model, named choice emulated
    choice = reply.choices[0]
    assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
    assert choice.message.function_call is not None and choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "Paris"}


def test_legacy_function_calls_stream_as_function_call_deltas(client: openai.OpenAI, fake: FakeUpstream) -> None:
    event = {"response": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    usage = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    fake.script(Reply(chunks=[sse(event), sse({"response": "", "usage": usage}), sse(b"[DONE]")]))
    chunks = list(client.chat.completions.create(model=LLAMA, messages=ASK, functions=[FUNCTION], stream=True))  # type: ignore[arg-type,list-item]
    name = "".join(
        c.choices[0].delta.function_call.name or "" for c in chunks if c.choices and c.choices[0].delta.function_call
    )
    arguments = "".join(
        c.choices[0].delta.function_call.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.function_call
    )
    assert name == "get_weather" and json.loads(arguments) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["function_call"]
    assert all(not c.choices or c.choices[0].delta.tool_calls is None for c in chunks)


def test_a_legacy_function_round_trip_becomes_tool_turns(client: openai.OpenAI, fake: FakeUpstream) -> None:
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"role": "function", "name": "get_weather", "content": '{"temperature": 21}'},
    ]
    reply = client.chat.completions.create(model=LLAMA, messages=history, functions=[FUNCTION])  # type: ignore[arg-type,list-item]
    assert reply.choices[0].finish_reason == "stop"
    sent = fake.last.body["messages"]
    call_id = sent[1]["tool_calls"][0]["id"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2]["role"] == "tool" and sent[2]["tool_call_id"] == call_id
    assert sent[2]["content"] == '{"temperature": 21}'
    assert fake.last.body["tools"][0]["name"] == "get_weather"


def test_functions_and_tools_together_are_a_400(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=LLAMA, messages=ASK, functions=[FUNCTION], tools=[WEATHER])  # type: ignore[arg-type,list-item]
    assert caught.value.param == "functions"  # type: ignore[attr-defined]
