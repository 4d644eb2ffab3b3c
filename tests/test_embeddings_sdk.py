"""Embeddings through the real server, judged by the official `openai` SDK."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from tests.fake_upstream import ACCOUNT, FakeUpstream, vector

MODEL = "@cf/baai/bge-base-en-v1.5"


def test_float_embeddings_for_a_list(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.embeddings.create(model=MODEL, input=["doc 1", "doc 2"], encoding_format="float")
    assert fake.last.path == f"/client/v4/accounts/{ACCOUNT}/ai/run/{MODEL}"
    assert fake.last.body == {"text": ["doc 1", "doc 2"]}
    assert reply.object == "list"
    assert reply.model == MODEL
    assert [d.index for d in reply.data] == [0, 1]
    assert all(d.object == "embedding" for d in reply.data)
    assert reply.data[0].embedding == vector(1, 768)
    assert reply.data[1].embedding == vector(2, 768)
    assert reply.usage.prompt_tokens > 0 and reply.usage.total_tokens == reply.usage.prompt_tokens


def test_base64_is_the_sdk_default_and_decodes_to_the_same_floats(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.embeddings.create(model=MODEL, input="doc 3")  # the SDK asks for base64 and decodes it
    assert len(reply.data) == 1
    expected = vector(3, 768)
    assert reply.data[0].embedding == pytest.approx(expected, rel=1e-6)


def test_base64_payload_is_little_endian_float32(http: httpx.Client, fake: FakeUpstream) -> None:
    raw = http.post("/v1/embeddings", json={"model": MODEL, "input": "doc 4", "encoding_format": "base64"}).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack("<768f", packed)) == pytest.approx(vector(4, 768), rel=1e-6)


def test_long_inputs_are_split_into_batches_and_merged_in_order(client: openai.OpenAI, fake: FakeUpstream) -> None:
    texts = [f"doc {i}" for i in range(250)]
    reply = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert sorted(len(r.body["text"]) for r in fake.requests) == [50, 100, 100]
    assert [d.index for d in reply.data] == list(range(250))
    assert [d.embedding[0] for d in reply.data] == [vector(i, 768)[0] for i in range(250)]


def test_token_array_input_is_refused_naming_input(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input=[[1, 2, 3]])
    assert caught.value.body["param"] == "input"  # type: ignore[index]
    assert fake.requests == []


def test_dimensions_the_model_cannot_honour_are_refused(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input="x", dimensions=256)
    assert caught.value.body["param"] == "dimensions"  # type: ignore[index]
    assert fake.requests == []
    same = client.embeddings.create(model=MODEL, input="doc 1", dimensions=768, encoding_format="float")
    assert len(same.data[0].embedding) == 768


def test_dimensions_are_checked_against_the_reply_for_unlisted_models(http: httpx.Client, fake: FakeUpstream) -> None:
    from tests.fake_upstream import Reply

    fake.script(Reply(json={"result": {"shape": [1, 3], "data": [[0.1, 0.2, 0.3]]}, "success": True}))
    reply = http.post("/v1/embeddings", json={"model": "@cf/acme/new-embedder", "input": "x", "dimensions": 8})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "dimensions"


@pytest.mark.parametrize("bad_input", ["", [], ["ok", ""]])
def test_empty_input_is_refused(http: httpx.Client, fake: FakeUpstream, bad_input: object) -> None:
    reply = http.post("/v1/embeddings", json={"model": MODEL, "input": bad_input})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "input"
