"""Messages and Responses on every route to Workers AI (native, openai, each through AI Gateway, and compat): the
bridges sit on the chat pipeline, so each route's dialect serves them unchanged; a streamed tool call and a whole
answer each, through the official SDKs."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.conftest import StartProxy
from tests.fake_upstream import GATEWAY, FakeUpstream, emulated_text
from tests.openai_schema import sdk

MODEL = "@cf/openai/gpt-oss-120b"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ROUTES = {
    "native": {},
    "openai": {"proxy_upstream": "openai"},
    "native-gateway": {"cloudflare_gateway_id": GATEWAY},
    "openai-gateway": {"proxy_upstream": "openai", "cloudflare_gateway_id": GATEWAY},
    "compat": {"proxy_upstream": "compat", "cloudflare_gateway_id": GATEWAY},
}


def settings(fake: FakeUpstream, route: str) -> dict[str, Any]:
    found = dict(ROUTES[route])
    if "cloudflare_gateway_id" in found:
        found["cloudflare_gateway_base"] = fake.base_url.replace("/client/v4", "/gateway/v1")
    return found


@pytest.mark.parametrize("route", ROUTES)
def test_responses_on_the_route(start_proxy: StartProxy, fake: FakeUpstream, route: str) -> None:
    server = start_proxy(**settings(fake, route))
    with sdk(server.url) as client:
        whole = client.responses.create(model=MODEL, input="Hello there")
        tool = {"type": "function", "name": "get_weather", "parameters": WEATHER}
        with client.responses.stream(model=MODEL, input="Weather?", tools=[tool]) as stream:  # type: ignore[list-item]
            called = stream.get_final_response()
    assert whole.status == "completed" and whole.output_text == emulated_text(MODEL, "Hello there")
    (call,) = called.output
    assert (
        call.type == "function_call"
        and call.name == "get_weather"
        and json.loads(call.arguments) == {"city": "example"}
    )


@pytest.mark.parametrize("route", ROUTES)
def test_messages_on_the_route(start_proxy: StartProxy, fake: FakeUpstream, route: str) -> None:
    server = start_proxy(**settings(fake, route))
    hello = [{"role": "user", "content": "Hello there"}]
    tool = {"name": "get_weather", "input_schema": WEATHER}
    with anthropic.Anthropic(base_url=server.url, api_key="sk-x", max_retries=0) as client:
        whole = client.messages.create(model=MODEL, max_tokens=256, messages=hello)  # type: ignore[arg-type]
        with client.messages.stream(model=MODEL, max_tokens=256, messages=hello, tools=[tool]) as stream:  # type: ignore[arg-type,list-item]
            called = stream.get_final_message()
    assert whole.content[0].text == emulated_text(MODEL, "Hello there")  # type: ignore[union-attr]
    assert called.stop_reason == "tool_use"
    (use,) = called.content
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "example"}
