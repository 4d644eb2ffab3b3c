"""Embeddings through the real server, judged by the official `openai` SDK."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.fake_upstream import ACCOUNT, FakeUpstream, emulated_vector

MODEL = "@cf/baai/bge-base-en-v1.5"


def test_float_embeddings_for_a_list(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.embeddings.create(model=MODEL, input=["doc 1", "doc 2"], encoding_format="float")
    assert fake.last.path == f"/client/v4/accounts/{ACCOUNT}/ai/run/{MODEL}"
    assert fake.last.body == {"text": ["doc 1", "doc 2"]}
    assert reply.object == "list"
    assert reply.model == MODEL
    assert [d.index for d in reply.data] == [0, 1]
    assert all(d.object == "embedding" for d in reply.data)
    assert reply.data[0].embedding == emulated_vector("doc 1", 768)
    assert reply.data[1].embedding == emulated_vector("doc 2", 768)
    assert reply.usage.prompt_tokens > 0 and reply.usage.total_tokens == reply.usage.prompt_tokens


def test_base64_is_the_sdk_default_and_decodes_to_the_same_floats(client: openai.OpenAI, fake: FakeUpstream) -> None:
    reply = client.embeddings.create(model=MODEL, input="doc 3")  # the SDK asks for base64 and decodes it
    assert len(reply.data) == 1
    expected = emulated_vector("doc 3", 768)
    assert reply.data[0].embedding == pytest.approx(expected, rel=1e-6)


def test_base64_payload_is_little_endian_float32(http: httpx.Client, fake: FakeUpstream) -> None:
    raw = http.post("/v1/embeddings", json={"model": MODEL, "input": "doc 4", "encoding_format": "base64"}).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack("<768f", packed)) == pytest.approx(emulated_vector("doc 4", 768), rel=1e-6)


def test_long_inputs_are_split_into_batches_and_merged_in_order(client: openai.OpenAI, fake: FakeUpstream) -> None:
    texts = [f"doc {i}" for i in range(250)]
    reply = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert sorted(len(r.body["text"]) for r in fake.requests) == [50, 100, 100]
    assert [d.index for d in reply.data] == list(range(250))
    assert [d.embedding[0] for d in reply.data] == [emulated_vector(f"doc {i}", 768)[0] for i in range(250)]


def test_token_arrays_are_decoded_to_text(client: openai.OpenAI, fake: FakeUpstream) -> None:
    """cl100k_base ids (tiktoken's), one array or several, come back as the text Workers AI embeds."""
    hello, world = [9906, 1917, 11, 420, 374, 23272, 19368, 0], [15339, 1917]  # "Hello world, this is LangChain!"
    reply = client.embeddings.create(model=MODEL, input=[hello, world])
    assert fake.last.body["text"] == ["Hello world, this is LangChain!", "hello world"]
    assert len(reply.data) == 2
    client.embeddings.create(model=MODEL, input=hello)
    assert fake.last.body["text"] == ["Hello world, this is LangChain!"]


def test_o200k_ids_when_the_model_name_says_so(start_proxy: Any, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_model_aliases={"gpt-4o-embedder": MODEL})
    with openai_schema.sdk(server.url) as client:
        client.embeddings.create(model="gpt-4o-embedder", input=[[13225, 2375, 11, 495, 382, 27830, 20848, 0]])
    assert fake.last.body["text"] == ["Hello world, this is LangChain!"]


def test_langchain_openai_embeddings_with_its_defaults(start_proxy: Any, fake: FakeUpstream, tmp_path: Any) -> None:
    """Regression: LangChain's default OpenAIEmbeddings sends tiktoken ids, which were refused. tiktoken itself
    reads its vocabulary from a cache here (these machines cannot download it): the proxy's own copy."""
    import hashlib
    import lzma
    import os

    from app.token_text import DATA

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cached = tmp_path / hashlib.sha1(url.encode()).hexdigest()  # tiktoken's cache file name
    cached.write_bytes(lzma.decompress((DATA / "cl100k_base.tiktoken.xz").read_bytes()))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tmp_path)
    try:
        from langchain_openai import OpenAIEmbeddings

        server = start_proxy(proxy_model_aliases={"text-embedding-ada-002": MODEL})
        embedder = OpenAIEmbeddings(base_url=server.url + "/v1", api_key="sk-x", max_retries=0)  # type: ignore[arg-type]
        vectors = embedder.embed_documents(["The first document.", "A second, longer document about Paris."])
        query = embedder.embed_query("Where is Paris?")
    finally:
        del os.environ["TIKTOKEN_CACHE_DIR"]
    assert len(vectors) == 2 and len(vectors[0]) == 768 and len(query) == 768
    sent = [text for request in fake.requests for text in request.body["text"]]
    assert sent == ["The first document.", "A second, longer document about Paris.", "Where is Paris?"]


def test_ids_that_are_no_tokens_are_a_400_naming_input(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input=[[1, 2, 10**9]])
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
