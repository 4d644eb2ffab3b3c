"""Every upstream route and AI Gateway feature: the fake checks the exact URL, auth headers and body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from app.settings import ModelSettings
from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import ACCOUNT, GATEWAY, TOKEN, FakeUpstream, Reply, emulated_text, envelope_error
from tests.servers import ProxyServer

MODEL = "@cf/meta/llama-3.1-8b-instruct"
PROMPT = "Hello"
ASK = [{"role": "user", "content": PROMPT}]
GATEWAY_TOKEN = "gw-token-xyz"


def gateway(fake: FakeUpstream, **more: Any) -> dict[str, Any]:
    return {
        "cloudflare_gateway_id": GATEWAY,
        "cloudflare_gateway_base": fake.base_url.replace("/client/v4", "/gateway/v1"),
        **more,
    }


def sdk(server: ProxyServer, **kwargs: Any) -> openai.OpenAI:
    return openai_schema.sdk(server.url, api_key="sk-x", **kwargs)


# -- the openai route ----------------------------------------------------------------------------
def test_openai_route_chat(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with sdk(start_proxy(proxy_upstream="openai")) as client:
        reply = client.chat.completions.create(model=MODEL, messages=ASK, user="u1", temperature=0.1, n=1)  # type: ignore[arg-type]
    sent = fake.last
    assert sent.path == f"/client/v4/accounts/{ACCOUNT}/ai/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}" and "cf-aig-authorization" not in sent.headers
    assert sent.body == {"model": MODEL, "messages": ASK, "temperature": 0.1, "max_tokens": 4096}
    assert reply.id.startswith("chatcmpl-") and reply.model == MODEL
    assert reply.choices[0].message.content == emulated_text(MODEL, PROMPT) and reply.choices[0].finish_reason == "stop"
    assert (
        reply.usage is not None
        and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    )


def test_openai_route_stream_normalizes_usage_and_finish(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with sdk(start_proxy(proxy_upstream="openai")) as client:
        chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True, max_tokens=5))  # type: ignore[arg-type]
        with_usage = list(
            client.chat.completions.create(
                model=MODEL,
                messages=ASK,
                stream=True,
                max_tokens=5,
                stream_options={"include_usage": True},  # type: ignore[arg-type]
            )
        )
    assert fake.last.body["stream"] is True and fake.last.body["stream_options"] == {"include_usage": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == emulated_text(MODEL, PROMPT, 5)
    assert all(c.usage is None for c in chunks)  # usage was asked upstream, not by this client
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens == 5


def test_openai_route_json_content_and_error_envelopes(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    message = {"role": "assistant", "content": {"city": "Paris"}}
    fake.script(
        Reply(
            json={"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        ),
        Reply(404, envelope_error(7003, "Could not route to /client/v4/accounts/x/ai/v1/chat/completions")),
        Reply(400, {"error": {"message": "bad model", "type": "invalid_request_error"}}),
    )
    with sdk(start_proxy(proxy_upstream="openai")) as client:
        assert (
            client.chat.completions.create(model=MODEL, messages=ASK).choices[0].message.content == '{"city":"Paris"}'
        )  # type: ignore[arg-type]
        with pytest.raises(openai.NotFoundError, match="Could not route"):
            client.chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError, match="bad model"):
            client.chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]


def test_openai_route_embeddings(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with sdk(start_proxy(proxy_upstream="openai")) as client:
        reply = client.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input=["doc 1", "doc 2"])
    assert fake.last.path == f"/client/v4/accounts/{ACCOUNT}/ai/v1/embeddings"
    assert fake.last.body == {
        "model": "@cf/baai/bge-base-en-v1.5",
        "input": ["doc 1", "doc 2"],
        "encoding_format": "float",
    }
    assert len(reply.data) == 2 and len(reply.data[1].embedding) == 768


def test_openai_route_passes_tools_and_options_through(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    with sdk(start_proxy(proxy_upstream="openai")) as client:
        client.chat.completions.create(
            model=MODEL,
            messages=[
                *ASK,
                {"role": "assistant", "content": "hi", "reasoning_content": "private"},
                {"role": "user", "content": "x"},
            ],  # type: ignore[list-item]
            tools=[tool],  # type: ignore[list-item]
            tool_choice="required",
            stop=["END"],
            response_format={"type": "json_object"},
            metadata={"a": "b"},
        )
    body = fake.last.body
    assert body["tools"] == [tool] and body["tool_choice"] == "required" and body["stop"] == ["END"]
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][1] == {"role": "assistant", "content": "hi"}  # earlier reasoning is not sent back
    assert "metadata" not in body  # OpenAI-platform fields stay away from Workers AI models


# -- AI Gateway ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("native", f"workers-ai/{MODEL}"),
        ("openai", "workers-ai/v1/chat/completions"),
        ("compat", "compat/chat/completions"),
    ],
)
def test_gateway_routes(start_proxy: StartProxy, fake: FakeUpstream, kind: str, path: str) -> None:
    fake.gateway_token = GATEWAY_TOKEN
    server = start_proxy(proxy_upstream=kind, **gateway(fake, cloudflare_gateway_token=GATEWAY_TOKEN))
    with sdk(server) as client:
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
    sent = fake.last
    assert sent.path == f"/gateway/v1/{ACCOUNT}/{GATEWAY}/{path}"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["cf-aig-authorization"] == f"Bearer {GATEWAY_TOKEN}"
    if kind == "compat":
        assert sent.body["model"] == f"workers-ai/{MODEL}"
    assert raw.headers["cf-aig-log-id"] == "01JADMCQQQBWH3NXZ5GCRN98DP"
    assert raw.headers["cf-aig-cache-status"] == "MISS"
    assert raw.parse().model == MODEL and raw.parse().choices[0].message.content == emulated_text(MODEL, PROMPT)


def test_gateway_response_headers_are_relayed_on_streams(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with (
        sdk(start_proxy(**gateway(fake))) as client,
        client.chat.completions.with_streaming_response.create(
            model=MODEL,
            messages=ASK,
            stream=True,  # type: ignore[arg-type]
        ) as response,
    ):
        assert response.headers["cf-aig-log-id"] == "01JADMCQQQBWH3NXZ5GCRN98DP"
        assert "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices) == emulated_text(
            MODEL, PROMPT
        )


def test_gateway_embeddings(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with sdk(start_proxy(proxy_upstream="compat", **gateway(fake))) as client:
        client.embeddings.create(model="@cf/baai/bge-m3", input="doc 3")
    assert fake.last.path == f"/gateway/v1/{ACCOUNT}/{GATEWAY}/workers-ai/v1/embeddings"
    assert fake.last.body["model"] == "@cf/baai/bge-m3"


def test_compat_passes_provider_qualified_models_through(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    with sdk(start_proxy(proxy_upstream="compat", **gateway(fake))) as client:
        reply = client.chat.completions.create(model="openai/gpt-4.1-mini", messages=ASK, metadata={"team": "a"})  # type: ignore[arg-type]
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-4.1-mini", messages=ASK)  # type: ignore[arg-type]
    assert fake.requests[0].body["model"] == "openai/gpt-4.1-mini"
    assert fake.requests[0].body["metadata"] == {"team": "a"}  # other providers get their own fields
    assert reply.model == "openai/gpt-4.1-mini" and len(fake.requests) == 1


def test_per_model_route_from_the_config(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(models={"fast": ModelSettings(upstream="openai")}, proxy_model_aliases={"fast": MODEL})
    with sdk(server) as client:
        client.chat.completions.create(model="fast", messages=ASK)  # type: ignore[arg-type]
        assert fake.last.path.endswith("/ai/v1/chat/completions")
        client.chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
        assert fake.last.path.endswith(f"/ai/run/{MODEL}")


def test_gateway_request_headers_allow_list_and_defaults(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(
        proxy_gateway_headers={"cf-aig-cache-ttl": "3600", "cf-aig-collect-log": "false"}, **gateway(fake)
    )
    sent_headers = {
        "cf-aig-cache-ttl": "60",
        "cf-aig-skip-cache": "true",
        "cf-aig-metadata": json.dumps({"user": "u1"}),
        "cf-aig-event-id": "evt-1",
        "cf-aig-authorization": "Bearer client-must-not-set-this",
        "x-secret-header": "nope",
        "cookie": "session=1",
    }
    response = httpx.post(
        server.url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK}, headers=sent_headers
    )
    assert response.status_code == 200
    got = {k.lower(): v for k, v in fake.last.headers.items()}
    assert got["cf-aig-cache-ttl"] == "60"  # the client's value wins over the default
    assert got["cf-aig-collect-log"] == "false"  # a configured default
    assert got["cf-aig-skip-cache"] == "true" and got["cf-aig-event-id"] == "evt-1"
    assert got["cf-aig-metadata"] == '{"user": "u1"}'
    assert "cf-aig-authorization" not in got and "x-secret-header" not in got and "cookie" not in got


def test_gateway_headers_never_reach_workers_ai_directly(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy()
    httpx.post(
        server.url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK}, headers={"cf-aig-cache-ttl": "60"}
    )
    assert not any(k.lower().startswith("cf-aig") for k in fake.last.headers)


def test_gateway_logs_api(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(**gateway(fake))
    got = httpx.get(server.url + "/v1/gateway/logs/01JADMCQQQBWH3NXZ5GCRN98DP")
    assert got.status_code == 200 and got.json()["id"] == "01JADMCQQQBWH3NXZ5GCRN98DP"
    assert fake.last.method == "GET"
    assert (
        fake.last.path == f"/client/v4/accounts/{ACCOUNT}/ai-gateway/gateways/{GATEWAY}/logs/01JADMCQQQBWH3NXZ5GCRN98DP"
    )
    assert fake.last.headers["Authorization"] == f"Bearer {TOKEN}"
    patched = httpx.patch(
        server.url + "/v1/gateway/logs/01JADM", json={"feedback": 1, "score": 90, "metadata": {"k": "v"}}
    )
    assert patched.status_code == 200
    assert fake.last.method == "PATCH" and fake.last.body == {"feedback": 1, "score": 90, "metadata": {"k": "v"}}
    bad = httpx.patch(server.url + "/v1/gateway/logs/01JADM", json={"feedback": 5})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "feedback"


def test_gateway_logs_need_a_gateway(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    response = httpx.get(start_proxy().url + "/v1/gateway/logs/abc")
    assert response.status_code == 404 and response.json()["error"]["code"] == "gateway_not_configured"
    assert fake.requests == []


def test_compat_without_a_gateway_refuses_to_start_proxy(fake: FakeUpstream) -> None:
    from app.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="CLOUDFLARE_GATEWAY_ID"):
        load_settings(_env_file=None, cloudflare_account_id="a", proxy_upstream="compat")


@pytest.mark.parametrize("metadata", ["not json", '{"a": {"nested": 1}}', json.dumps({str(i): i for i in range(6)})])
def test_gateway_metadata_must_be_flat_and_small(start_proxy: StartProxy, fake: FakeUpstream, metadata: str) -> None:
    server = start_proxy(**gateway(fake))
    body = {"model": MODEL, "messages": ASK}
    response = httpx.post(server.url + "/v1/chat/completions", json=body, headers={"cf-aig-metadata": metadata})
    assert response.status_code == 400 and response.json()["error"]["param"] == "cf-aig-metadata"
    assert fake.requests == []
