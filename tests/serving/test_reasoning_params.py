"""Reasoning models, stop sequences, n choices and accepted-but-ignored parameters, with the `openai` SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fake_upstream import FakeUpstream, Reply, emulated_text, sse

R1 = "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"  # its template opens <think>: the output only closes it
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
KIMI = "@cf/moonshotai/kimi-k2.6"
GPT_OSS = "@cf/openai/gpt-oss-120b"
LLAMA = "@cf/meta/llama-3.1-8b-instruct"
ASK = [{"role": "user", "content": "How many r in strawberry?"}]


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def usage(completion: int) -> dict[str, int]:
    return {"prompt_tokens": 7, "completion_tokens": completion, "total_tokens": 7 + completion}


def streamed(chunks: list[Any]) -> tuple[str, str, list[str | None]]:
    reasoning = content = ""
    finishes = []
    for chunk in chunks:
        for choice in chunk.choices:
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            content += choice.delta.content or ""
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return reasoning, content, finishes


# -- reasoning -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "text"),
    [
        (R1, "Count the letters: s-t-r-a-w-b-e-r-r-y.\n</think>\n\nThere are 3."),
        (QWEN3, "<think>\nCount the letters: s-t-r-a-w-b-e-r-r-y.\n</think>\n\nThere are 3."),
        (LLAMA, "<think>Count the letters: s-t-r-a-w-b-e-r-r-y.\n</think>There are 3."),
    ],
    ids=["implicit-open", "tags", "any-model-leading-block"],
)
def test_think_blocks_become_reasoning_content(
    client: openai.OpenAI, fake: FakeUpstream, model: str, text: str
) -> None:
    fake.script(Reply(json=envelope({"response": text, "usage": usage(30)})))
    message = client.chat.completions.create(model=model, messages=ASK).choices[0].message  # type: ignore[arg-type]
    assert message.content == "There are 3."
    assert message.reasoning_content.strip() == "Count the letters: s-t-r-a-w-b-e-r-r-y."  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", [R1, QWEN3])
def test_think_blocks_split_in_streams(client: openai.OpenAI, fake: FakeUpstream, model: str) -> None:
    text = ("" if model == R1 else "<think>") + "Letters: s t r a w b e r r y.</think>\n\nThere are 3."
    tokens = [text[i : i + 3] for i in range(0, len(text), 3)]  # tags split across tokens
    fake.script(Reply(chunks=[*(sse({"response": t}) for t in tokens), sse(b"[DONE]")]))
    reasoning, content, finishes = streamed(
        list(client.chat.completions.create(model=model, messages=ASK, stream=True))
    )  # type: ignore[arg-type]
    assert reasoning == "Letters: s t r a w b e r r y."
    assert content == "There are 3." and finishes == ["stop"]


def test_reasoning_field_of_newer_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    message = {"role": "assistant", "content": "3", "reasoning": "s-t-r-a-w-b-e-r-r-y has three r."}
    fake.script(Reply(json=envelope({"choices": [{"index": 0, "finish_reason": "stop", "message": message}]})))
    reply = client.chat.completions.create(model=GPT_OSS, messages=ASK)  # type: ignore[arg-type]
    assert reply.choices[0].message.reasoning_content == "s-t-r-a-w-b-e-r-r-y has three r."  # type: ignore[attr-defined]
    assert reply.choices[0].message.content == "3"


def test_reasoning_deltas_in_openai_chunks(client: openai.OpenAI, fake: FakeUpstream) -> None:
    def chunk(delta: dict[str, Any]) -> bytes:
        return sse({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})

    fake.script(
        Reply(
            chunks=[
                chunk({"reasoning": "thinking "}),
                chunk({"reasoning_content": "more"}),
                chunk({"content": "3"}),
                sse(b"[DONE]"),
            ]
        )
    )
    reasoning, content, _ = streamed(list(client.chat.completions.create(model=GPT_OSS, messages=ASK, stream=True)))  # type: ignore[arg-type]
    assert (reasoning, content) == ("thinking more", "3")


@pytest.mark.parametrize("stream", [False, True])
def test_budget_spent_thinking_is_length_not_an_empty_success(
    client: openai.OpenAI, fake: FakeUpstream, stream: bool
) -> None:
    thinking = "Let me think about this very carefully and at great length"
    if stream:
        fake.script(
            Reply(
                chunks=[sse({"response": w + " "}) for w in thinking.split()]
                + [sse({"response": "", "usage": usage(11)}), sse(b"[DONE]")]
            )
        )
        _, content, finishes = streamed(
            list(client.chat.completions.create(model=R1, messages=ASK, max_tokens=11, stream=True))
        )  # type: ignore[arg-type]
        assert content == "" and finishes == ["length"]
    else:
        fake.script(Reply(json=envelope({"response": thinking, "usage": usage(11)})))
        choice = client.chat.completions.create(model=R1, messages=ASK, max_tokens=11).choices[0]  # type: ignore[arg-type]
        assert choice.finish_reason == "length" and not choice.message.content
        assert choice.message.reasoning_content == thinking  # type: ignore[attr-defined]


def test_reasoning_effort_in_each_models_form(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Reply(json=envelope({"response": "ok"})),
        Reply(json=envelope({"response": "ok"})),
        Reply(json=envelope({"response": "ok"})),
    )
    client.chat.completions.create(model=GPT_OSS, messages=ASK, reasoning_effort="high")  # type: ignore[arg-type]
    assert fake.last.body["reasoning_effort"] == "high"
    client.chat.completions.create(model=QWEN3, messages=ASK, reasoning_effort="minimal")  # type: ignore[arg-type]
    assert fake.last.body["chat_template_kwargs"] == {"enable_thinking": False}
    client.chat.completions.create(model=LLAMA, messages=ASK, reasoning_effort="low")  # type: ignore[arg-type]
    assert "reasoning_effort" not in fake.last.body and "chat_template_kwargs" not in fake.last.body


def test_kimi_turns_thinking_on_and_off_with_its_own_switch(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """Kimi K2.6 reads `chat_template_kwargs.thinking`, not `enable_thinking` (wire spec 9.2)."""
    fake.script(Reply(json=envelope({"response": "ok"})), Reply(json=envelope({"response": "ok"})))
    client.chat.completions.create(model=KIMI, messages=ASK, reasoning_effort="none")  # type: ignore[arg-type]
    assert fake.last.body["chat_template_kwargs"] == {"thinking": False} and "reasoning_effort" not in fake.last.body
    client.chat.completions.create(model=KIMI, messages=ASK, reasoning_effort="high")  # type: ignore[arg-type]
    assert fake.last.body["chat_template_kwargs"] == {"thinking": True}
    assert fake.last.body["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("@cf/moonshotai/kimi-k2.6", "reasoning"),
        ("@cf/deepseek-ai/deepseek-v4-flash-0731", "reasoning_content"),
        ("@cf/zai-org/glm-5.2", "reasoning_content"),
    ],
)
def test_reasoning_goes_back_to_the_models_that_need_it(
    client: openai.OpenAI, fake: FakeUpstream, model: str, field: str
) -> None:
    """Kimi K2.x, DeepSeek V4 and GLM 5 reject an assistant tool-call turn whose reasoning was dropped."""
    fake.script(Reply(json=envelope({"response": "ok"})))
    call = {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call], "reasoning_content": "I need the time first."},
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
    ]
    client.chat.completions.create(model=model, messages=history)  # type: ignore[arg-type]
    turn = fake.last.body["messages"][1]
    assert turn[field] == "I need the time first." and turn["tool_calls"][0]["id"] == "call_1"
    other = "reasoning_content" if field == "reasoning" else "reasoning"
    assert other not in turn


def test_earlier_reasoning_is_not_sent_back(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "ok"})))
    history = [
        *ASK,
        {"role": "assistant", "content": "3", "reasoning_content": "secret chain"},
        {"role": "user", "content": "sure?"},
    ]
    client.chat.completions.create(model=R1, messages=history)  # type: ignore[arg-type]
    assert fake.last.body["messages"][1] == {"role": "assistant", "content": "3"}


# -- stop ----------------------------------------------------------------------------------------
def test_stop_is_enforced_for_models_without_it(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "one two three END four five", "usage": usage(6)})))
    choice = client.chat.completions.create(model=LLAMA, messages=ASK, stop=["END", "xyz"]).choices[0]  # type: ignore[arg-type]
    assert "stop" not in fake.last.body
    assert choice.message.content == "one two three " and choice.finish_reason == "stop"


def test_stop_is_enforced_in_streams_across_tokens(client: openai.OpenAI, fake: FakeUpstream) -> None:
    tokens = ["one ", "two E", "N", "D three ", "four"]
    fake.script(Reply(chunks=[*(sse({"response": t}) for t in tokens), sse(b"[DONE]")], chunk_delay=0.01))
    _, content, finishes = streamed(
        list(client.chat.completions.create(model=LLAMA, messages=ASK, stop="END", stream=True))
    )  # type: ignore[arg-type]
    assert content == "one two " and finishes == ["stop"]


def test_partial_stop_match_that_does_not_complete_is_released(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Reply(
            chunks=[
                sse({"response": "a EN"}),
                sse({"response": "Dless"}),
                sse({"response": " story E"}),
                sse(b"[DONE]"),
            ]
        )
    )
    _, content, finishes = streamed(
        list(client.chat.completions.create(model=LLAMA, messages=ASK, stop="END!", stream=True))
    )  # type: ignore[arg-type]
    assert content == "a ENDless story E" and finishes == ["stop"]


def test_stop_is_forwarded_to_models_that_take_it(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "done"})))
    client.chat.completions.create(model=GPT_OSS, messages=ASK, stop=["END"])  # type: ignore[arg-type]
    assert fake.last.body["stop"] == ["END"]


# -- n -------------------------------------------------------------------------------------------
def test_n_choices_come_from_parallel_upstream_calls(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Reply(json=envelope({"response": "first", "usage": usage(1)})),
        Reply(json=envelope({"response": "second", "usage": usage(1)})),
    )
    reply = client.chat.completions.create(model=LLAMA, messages=ASK, n=2)  # type: ignore[arg-type]
    assert len(fake.requests) == 2
    assert [c.index for c in reply.choices] == [0, 1]
    assert sorted(c.message.content or "" for c in reply.choices) == ["first", "second"]
    assert reply.usage is not None and reply.usage.completion_tokens == 2 and reply.usage.prompt_tokens == 7


def test_n_choices_stream_interleaved_by_index(client: openai.OpenAI, fake: FakeUpstream) -> None:
    chunks = list(
        client.chat.completions.create(
            model=LLAMA, messages=ASK, n=3, stream=True, stream_options={"include_usage": True}
        )  # type: ignore[arg-type]
    )
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert sorted(texts) == [0, 1, 2] and len(set(texts.values())) == 1 and texts[0]
    assert finishes == {0: "stop", 1: "stop", 2: "stop"}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3 * len(emulated_text(LLAMA, ASK[0]["content"]).split())


def test_accepted_parameters_that_change_nothing_upstream(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.chat.completions.create(
        model=LLAMA,
        messages=ASK,  # type: ignore[arg-type]
        parallel_tool_calls=True,
        metadata={"team": "a"},
        store=False,
        service_tier="auto",
        prompt_cache_key="k1",
        logprobs=False,
    )
    assert reply.choices[0].message.content
    for name in ("metadata", "store", "service_tier", "prompt_cache_key", "parallel_tool_calls", "logprobs"):
        assert name not in fake.last.body
