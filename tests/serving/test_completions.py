"""POST /v1/completions (legacy text completions) with the `openai` SDK."""

from __future__ import annotations

import openai
import pytest

from tests.fake_upstream import ACCOUNT, FakeUpstream, Reply, emulated_text, sse

MODEL = "@cf/meta/llama-3.1-8b-instruct"


def test_text_completion(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5, temperature=0.5)
    assert fake.last.path == f"/client/v4/accounts/{ACCOUNT}/ai/run/{MODEL}"
    assert fake.last.body == {"prompt": "Once upon a time", "max_tokens": 5, "temperature": 0.5}
    assert reply.object == "text_completion" and reply.id.startswith("cmpl-") and reply.model == MODEL
    (choice,) = reply.choices
    assert (
        choice.text == emulated_text(MODEL, "Once upon a time", 5)
        and choice.index == 0
        and choice.finish_reason == "length"
    )
    assert reply.usage is not None and reply.usage.completion_tokens == 5


def test_prompt_list_and_n(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.completions.create(model=MODEL, prompt=["first", "second"], n=2, max_tokens=3)
    assert [r.body["prompt"] for r in fake.requests] == ["first", "first", "second", "second"]
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    assert reply.usage is not None and reply.usage.completion_tokens == 12  # 4 choices of 3 tokens
    assert reply.usage.prompt_tokens == 2  # the prompt of each choice, counted once per prompt (1 + 1)


def test_streamed_text_completion(client: openai.OpenAI, fake: FakeUpstream) -> None:
    chunks = list(
        client.completions.create(
            model=MODEL, prompt="Once", max_tokens=4, stream=True, stream_options={"include_usage": True}
        )
    )
    assert fake.last.body["stream"] is True
    assert {c.object for c in chunks} == {"text_completion"} and len({c.id for c in chunks}) == 1
    assert "".join(c.choices[0].text for c in chunks if c.choices) == emulated_text(MODEL, "Once", 4)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 1 + 4


@pytest.mark.parametrize("stream", [False, True])
def test_echo_and_stop(client: openai.OpenAI, fake: FakeUpstream, stream: bool) -> None:
    if stream:
        fake.script(Reply(chunks=[sse({"response": " and"}), sse({"response": " then STOP here"}), sse(b"[DONE]")]))
        chunks = list(client.completions.create(model=MODEL, prompt="Hello", echo=True, stop="STOP", stream=True))
        text = "".join(c.choices[0].text for c in chunks if c.choices)
    else:
        fake.script(Reply(json={"result": {"response": " and then STOP here"}, "success": True}))
        text = client.completions.create(model=MODEL, prompt="Hello", echo=True, stop="STOP").choices[0].text
    assert text == "Hello and then "


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "x", "suffix": "end"}, "suffix"),
        ({"prompt": "x", "logprobs": 2}, "logprobs"),
        ({"prompt": "x", "best_of": 3}, "best_of"),
    ],
)
def test_unsupported_completion_parameters(client: openai.OpenAI, fake: FakeUpstream, kwargs: dict, param: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, **kwargs)
    assert caught.value.param == param  # type: ignore[attr-defined]
    assert fake.requests == []
