"""Structured output and images through the real server with the `openai` SDK."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from app.main import create_app
from tests import openai_schema
from tests.conftest import make_settings
from tests.fake_upstream import FakeUpstream, Reply
from tests.image_server import ImageServer
from tests.servers import ProxyServer

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"  # vision
HERMES = "@hf/nousresearch/hermes-2-pro-mistral-7b"  # string content only, no images
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


class City(BaseModel):
    name: str
    country: str
    population: int


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def image_message(url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


# -- structured output ---------------------------------------------------------------------------
def test_json_schema_is_sent_bare_and_object_replies_become_json_text(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.script(Reply(json=envelope({"response": {"name": "Paris", "country": "France", "population": 2100000}})))
    parsed = client.chat.completions.parse(
        model=LLAMA, messages=[{"role": "user", "content": "Describe Paris"}], response_format=City
    )
    sent = fake.last.body["response_format"]
    assert sent["type"] == "json_schema"
    # the bare JSON Schema, not OpenAI's {name, schema, strict} envelope
    assert sent["json_schema"]["type"] == "object" and "schema" not in sent["json_schema"]
    assert sent["json_schema"]["properties"]["name"] == {"title": "Name", "type": "string"}
    assert parsed.choices[0].message.parsed == City(name="Paris", country="France", population=2100000)


def test_json_object_mode(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": {"answer": 42}})))
    reply = client.chat.completions.create(
        model=LLAMA, messages=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"}
    )
    assert fake.last.body["response_format"] == {"type": "json_object"}
    assert reply.choices[0].message.content == '{"answer":42}'


def test_json_mode_streams_by_replaying_a_whole_answer(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(
        Reply(
            json=envelope(
                {"response": {"answer": 42}, "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
            )
        )
    )
    chunks = list(
        client.chat.completions.create(
            model=LLAMA,
            messages=[{"role": "user", "content": "json please"}],
            response_format={"type": "json_object"},
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "stream" not in fake.last.body  # Workers AI's JSON mode does not stream
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == '{"answer":42}'
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8


# -- images --------------------------------------------------------------------------------------
def test_data_url_images_are_passed_as_parts(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "A single pixel."})))
    reply = client.chat.completions.create(model=SCOUT, messages=image_message(DATA_URL))  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "A single pixel."
    assert fake.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": DATA_URL}},
    ]


def test_text_parts_are_flattened_for_string_only_models(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(json=envelope({"response": "ok"})))
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    client.chat.completions.create(model=HERMES, messages=[{"role": "user", "content": parts}])  # type: ignore[arg-type,misc]
    assert fake.last.body["messages"][0]["content"] == "one\ntwo"


def test_images_for_a_text_only_model_are_refused(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=HERMES, messages=image_message(DATA_URL))  # type: ignore[arg-type]
    assert caught.value.param == "messages[0].content[1]"  # type: ignore[attr-defined]
    assert fake.requests == []


@pytest.mark.parametrize(
    "part",
    [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ],
)
def test_non_image_file_parts_are_refused(client: openai.OpenAI, fake: FakeUpstream, part: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=SCOUT, messages=[{"role": "user", "content": [part]}])  # type: ignore[arg-type,misc]
    assert caught.value.param == "messages[0].content[0]"  # type: ignore[attr-defined]


@pytest.fixture()
def images() -> Iterator[ImageServer]:
    with ImageServer() as server:
        server.routes = {
            "/pixel.png": (200, {"Content-Type": "image/png"}, PNG),
            "/moved": (302, {"Location": "/pixel.png"}, b""),
            "/page.html": (200, {"Content-Type": "text/html"}, b"<html></html>"),
            "/huge.png": (200, {"Content-Type": "image/png"}, b"\x89PNG" + b"0" * 5000),
        }
        yield server


@pytest.fixture()
def trusting_proxy(fake: FakeUpstream) -> Iterator[openai.OpenAI]:
    """A proxy allowed to fetch images from loopback (the test image server), capped at 4 KiB."""
    settings = make_settings(fake, proxy_image_allow_private_urls=True, proxy_image_max_bytes=4096)
    server = ProxyServer(create_app(settings)).start()
    with openai_schema.sdk(server.url) as sdk:
        yield sdk
    server.stop()


@pytest.mark.parametrize("path", ["/pixel.png", "/moved"])
def test_remote_images_are_fetched_and_inlined(
    trusting_proxy: openai.OpenAI, fake: FakeUpstream, images: ImageServer, path: str
) -> None:
    fake.script(Reply(json=envelope({"response": "A pixel."})))
    trusting_proxy.chat.completions.create(model=SCOUT, messages=image_message(images.url + path))  # type: ignore[arg-type]
    assert fake.last.body["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": DATA_URL}}


def test_unusable_remote_images_are_400s_naming_the_part_all_alike(
    trusting_proxy: openai.OpenAI, fake: FakeUpstream, images: ImageServer
) -> None:
    """Wrong content type, too large, 404, nothing listening: one message, so that answers cannot be used
    to tell what the proxy can reach."""
    messages = set()
    for url in (images.url + "/page.html", images.url + "/huge.png", images.url + "/nothing", "http://127.0.0.1:9/"):
        with pytest.raises(openai.BadRequestError, match="could not be fetched") as caught:
            trusting_proxy.chat.completions.create(model=SCOUT, messages=image_message(url))  # type: ignore[arg-type]
        assert caught.value.param == "messages[0].content[1].image_url"  # type: ignore[attr-defined]
        messages.add(caught.value.message)
    assert len(messages) == 1
    assert fake.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/pixel.png",
        "http://localhost:9/pixel.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.png",
        "http://[::1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://user:pass@example.com/a.png",
    ],
)
def test_private_and_metadata_addresses_are_never_fetched(client: openai.OpenAI, fake: FakeUpstream, url: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=SCOUT, messages=image_message(url))  # type: ignore[arg-type]
    assert caught.value.param == "messages[0].content[1].image_url"  # type: ignore[attr-defined]
    assert fake.requests == []
