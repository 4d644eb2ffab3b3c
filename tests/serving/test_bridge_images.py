"""Images through both bridges: Anthropic `image` blocks (base64 and URL sources) and Responses `input_image` parts
(data and http URLs) reach a vision model as the chat pipeline sends images; URLs are fetched with the image guard,
which refuses private addresses unless allowed."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream
from tests.image_server import ImageServer
from tests.openai_schema import sdk

SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"  # vision
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PNG = base64.b64decode(PNG_B64)
DATA_URL = "data:image/png;base64," + PNG_B64
SENT_IMAGE = {"type": "image_url", "image_url": {"url": DATA_URL}}


@pytest.fixture()
def images() -> Iterator[ImageServer]:
    with ImageServer() as server:
        server.routes["/img.png"] = (200, {"Content-Type": "image/png"}, PNG)
        yield server


def sent_parts(fake: FakeUpstream) -> list[dict[str, object]]:
    parts: list[dict[str, object]] = fake.last.body["messages"][-1]["content"]
    return parts


@pytest.mark.parametrize("source", ["base64", "url"])
def test_messages_image_blocks(start_proxy: StartProxy, fake: FakeUpstream, images: ImageServer, source: str) -> None:
    server = start_proxy(proxy_image_allow_private_urls=True)
    if source == "base64":
        image = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
    else:
        image = {"type": "url", "url": images.url + "/img.png"}
    content = [{"type": "image", "source": image}, {"type": "text", "text": "What is this?"}]
    with anthropic.Anthropic(base_url=server.url, api_key="sk-x", max_retries=0) as client:
        message = client.messages.create(
            model=SCOUT,
            max_tokens=64,
            messages=[{"role": "user", "content": content}],  # type: ignore[list-item,typeddict-item]
        )
    assert message.content
    assert sent_parts(fake) == [SENT_IMAGE, {"type": "text", "text": "What is this?"}]


@pytest.mark.parametrize("source", ["data", "url"])
def test_responses_input_images(start_proxy: StartProxy, fake: FakeUpstream, images: ImageServer, source: str) -> None:
    server = start_proxy(proxy_image_allow_private_urls=True)
    url = DATA_URL if source == "data" else images.url + "/img.png"
    content = [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": url}]
    with sdk(server.url) as client:
        response = client.responses.create(model=SCOUT, input=[{"role": "user", "content": content}])  # type: ignore[list-item,misc]
    assert response.output_text
    assert sent_parts(fake) == [{"type": "text", "text": "What is this?"}, SENT_IMAGE]


def test_private_image_urls_are_refused_in_each_protocols_shape(start_proxy: StartProxy, images: ImageServer) -> None:
    server = start_proxy()
    url = images.url + "/img.png"
    messages = {
        "model": SCOUT,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": url}}]}],
    }
    refused = httpx.post(server.url + "/v1/messages", json=messages)
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    responses = {"model": SCOUT, "input": [{"role": "user", "content": [{"type": "input_image", "image_url": url}]}]}
    refused = httpx.post(server.url + "/v1/responses", json=responses)
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    assert images.hits == []
