"""Hostile and oversized input: every refusal is a 4xx in OpenAI shape, no upstream call, no stack trace;
and no secret reaches the logs of a failing run."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.conftest import StartProxy
from tests.console import RunningProxy, clean_env
from tests.fake_upstream import ACCOUNT, TOKEN, FakeUpstream, Reply, envelope_error

MODEL = "@cf/meta/llama-3.1-8b-instruct"
ASK = [{"role": "user", "content": "Hello"}]


def assert_openai_error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert "Traceback" not in response.text
    if param is not None:
        assert error["param"] == param
    return dict(error)


# -- model names never bend the upstream URL -------------------------------------------------------
UNSAFE_MODELS = [
    "..",
    "@cf/meta/..",
    "@cf/../accounts/other/ai/run/x",
    "@cf/meta/a%2Fb",
    "@cf/meta/%2e%2e",
    "@cf/meta/x?y=1",
    "@cf/meta/x#fragment",
    "@cf/meta/llama 3",
    "@cf/meta/x\ty",
    "@cf/meta/x\ny",
    "@cf/meta/x\x00",
    "@cf/meta/x\x7f",
    "@cf/meta/x\\y",
]


@pytest.mark.parametrize("model", UNSAFE_MODELS)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": ASK}),
        ("/v1/completions", {"prompt": "Hello"}),
        ("/v1/embeddings", {"input": "Hello"}),
    ],
    ids=["chat", "completions", "embeddings"],
)
def test_unsafe_model_names_are_400s_before_any_upstream_call(
    http: httpx.Client, fake: FakeUpstream, model: str, path: str, body: dict[str, Any]
) -> None:
    assert_openai_error(http.post(path, json={**body, "model": model}), 400, param="model")
    assert fake.requests == []


def test_unsafe_names_through_a_gateway_route_too(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(cloudflare_gateway_id="gw-main")
    for model in ("workers-ai/@cf/meta/../x", "workers-ai/@cf/meta/x?y", "openai/../../x"):
        response = httpx.post(server.url + "/v1/chat/completions", json={"model": model, "messages": ASK})
        assert 400 <= response.status_code < 500 and response.json()["error"]["param"] == "model"
    assert fake.requests == []


# -- request limits --------------------------------------------------------------------------------
def test_body_over_the_limit_is_a_413_whether_declared_or_streamed(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_max_body_bytes=2000)
    big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_openai_error(httpx.post(server.url + "/v1/chat/completions", json=big), 413)

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}]}'

    response = httpx.post(server.url + "/v1/chat/completions", content=chunked())
    assert_openai_error(response, 413)
    within = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK})
    assert within.status_code == 200
    assert len(fake.requests) == 1


def test_too_many_messages_and_too_much_text_are_400s(http: httpx.Client, fake: FakeUpstream) -> None:
    many = [{"role": "user", "content": "hi"}] * 5000
    assert_openai_error(http.post("/v1/chat/completions", json={"model": MODEL, "messages": many}), 400, "messages")
    huge = [{"role": "user", "content": "x" * (9 * 1024 * 1024)}]
    assert_openai_error(http.post("/v1/chat/completions", json={"model": MODEL, "messages": huge}), 400, "messages")
    assert fake.requests == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        b'{"model": "\xc3\x28", "messages": []}',
        b"[" * 2000 + b"]" * 2000,
        b'{"a": ' * 1100 + b"1" + b"}" * 1100,
        b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", "content": "\\ud800"}]}',
        b"\x00\x01\x02",
        b"",
    ],
    ids=[
        "invalid-utf8-content",
        "invalid-utf8-model",
        "deep-array",
        "deep-object",
        "lone-surrogate",
        "binary",
        "empty",
    ],
)
def test_undecodable_bodies_are_400s(http: httpx.Client, fake: FakeUpstream, body: bytes) -> None:
    response = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_openai_error(response, 400)
    assert fake.requests == []


# -- work and memory per request are bounded ----------------------------------------------------
def test_too_many_embedding_inputs_are_a_400_before_any_upstream_call(http: httpx.Client, fake: FakeUpstream) -> None:
    """Regression: 100,000 inputs in one 500 KB request became 1,000 upstream calls and a 3.4 GB peak."""
    many = {"model": "@cf/baai/bge-small-en-v1.5", "input": ["hi"] * 100_000}
    error = assert_openai_error(http.post("/v1/embeddings", json=many), 400, param="input")
    assert "2048" in error["message"] and error["code"] == "too_many_inputs"
    at_limit = http.post("/v1/embeddings", json={**many, "input": ["hi"] * 2048})
    assert at_limit.status_code == 200 and len(at_limit.json()["data"]) == 2048
    assert len(fake.requests) == 21  # 2048 inputs in batches of 100


def test_too_much_embedding_text_is_a_400(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_embeddings_max_chars=1000)
    body = {"model": "@cf/baai/bge-small-en-v1.5", "input": ["x" * 400] * 3}
    error = assert_openai_error(httpx.post(server.url + "/v1/embeddings", json=body), 400, param="input")
    assert "PROXY_EMBEDDINGS_MAX_CHARS" in error["message"]
    assert fake.requests == []


def test_too_many_images_is_a_400_naming_the_first_part_over(http: httpx.Client, fake: FakeUpstream) -> None:
    pixel = "data:image/png;base64,iVBORw0KGgo="
    parts = [{"type": "text", "text": "Compare"}] + [{"type": "image_url", "image_url": {"url": pixel}}] * 17
    body = {"model": "@cf/meta/llama-4-scout-17b-16e-instruct", "messages": [{"role": "user", "content": parts}]}
    error = assert_openai_error(http.post("/v1/chat/completions", json=body), 400, param="messages[0].content[17]")
    assert "PROXY_MAX_IMAGES" in error["message"]
    assert fake.requests == []


def test_remote_images_beyond_the_total_budget_are_a_400(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    """Regression: 30 image URLs of 15 MB built a 629 MB upstream body. Images are fetched from one budget."""
    from tests.image_server import ImageServer

    server = start_proxy(proxy_image_allow_private_urls=True, proxy_image_max_total_bytes=200)
    with ImageServer() as images:
        url = f"http://127.0.0.1:{images.port}/img.png"  # 72 bytes each
        parts = [{"type": "image_url", "image_url": {"url": url}}] * 4
        body = {"model": "@cf/meta/llama-4-scout-17b-16e-instruct", "messages": [{"role": "user", "content": parts}]}
        error = assert_openai_error(httpx.post(server.url + "/v1/chat/completions", json=body), 400)
        assert error["code"] == "images_too_large" and error["param"].startswith("messages[0].content[")
        body["messages"][0]["content"] = parts[:2]  # type: ignore[index]
        assert httpx.post(server.url + "/v1/chat/completions", json=body).status_code == 200
    assert len(fake.requests) == 1


def test_an_overlong_model_name_is_a_400(http: httpx.Client, fake: FakeUpstream) -> None:
    """Regression: a model name of ~65,000 characters was a 500 with a traceback."""
    for name in ("@cf/meta/" + "a" * 70_000, "x" * 300, "@cf/meta/" + "b" * 250):
        for path, body in (("/v1/chat/completions", {"messages": ASK}), ("/v1/embeddings", {"input": "hi"})):
            assert_openai_error(http.post(path, json={**body, "model": name}), 400, param="model")
    assert fake.requests == []


def nested_schema(depth: int) -> str:
    """A JSON schema `depth` objects deep (two JSON levels each), built as text: encoders stop far sooner."""
    opening = '{"type": "object", "required": ["a"], "properties": {"a": ' * depth
    return opening + '{"type": "string"}' + "}}" * depth


@pytest.mark.parametrize("depth", [100, 500])
def test_deeply_nested_schemas_never_crash_the_proxy(http: httpx.Client, depth: int) -> None:
    """Nesting within the JSON parser's limit still reaches code that walks schemas: a 4xx or an answer."""
    schema = nested_schema(depth)
    tool = '{"type": "function", "function": {"name": "f", "parameters": ' + schema + "}}"
    fmt = '{"type": "json_schema", "json_schema": {"name": "deep", "schema": ' + schema + "}}"
    start = '{"model": "' + MODEL + '", "messages": [{"role": "user", "content": "Hello"}], '
    for extra in ('"tools": [' + tool + "]", '"response_format": ' + fmt):
        response = http.post(
            "/v1/chat/completions", content=start + extra + "}", headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, response.text


# -- secrets never reach the logs ------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_tokens_never_appear_in_the_logs_of_a_failing_run(fake: FakeUpstream, tmp_path: Path) -> None:
    """Debug logging, a pass-through token, an upstream that echoes the token in its errors, client keys,
    and an unreachable upstream: the token appears in none of the output, and in no metric."""
    client_key = "sk-client-key-zz9-plural-z-alpha"
    fake.script(
        Reply(401, envelope_error(10000, f"Authentication error: token {TOKEN} is not valid")),
        Reply(500, envelope_error(1000, f"internal error while serving Bearer {TOKEN}")),
        Reply(chunks=[b'data: {"response": "' + TOKEN.encode() + b'"}\n\n'], drop_after_chunks=True),
    )
    passthrough = clean_env(CLOUDFLARE_ACCOUNT_ID=ACCOUNT, CLOUDFLARE_API_BASE=fake.base_url, PROXY_MAX_RETRIES="0")
    with RunningProxy("--log-level", "debug", cwd=tmp_path, env=passthrough) as proxy:
        sdk = openai_schema.sdk(proxy.url, api_key=TOKEN)
        with pytest.raises(openai.AuthenticationError):
            sdk.chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
        with pytest.raises(openai.InternalServerError):
            sdk.chat.completions.create(model=MODEL, messages=ASK)  # type: ignore[arg-type]
        with pytest.raises(openai.APIError):
            for _ in sdk.chat.completions.create(model=MODEL, messages=ASK, stream=True):  # type: ignore[arg-type]
                pass
        httpx.post(proxy.url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK})  # no token at all
        passthrough_metrics = httpx.get(proxy.url + "/metrics").text
        passthrough_output = proxy.output()

    unreachable = clean_env(
        CLOUDFLARE_ACCOUNT_ID=ACCOUNT,
        CLOUDFLARE_API_TOKEN=TOKEN,
        CLOUDFLARE_API_BASE=f"http://127.0.0.1:{closed_port()}/client/v4",
        PROXY_API_KEYS=client_key,
        PROXY_MAX_RETRIES="1",
        PROXY_RETRY_BASE_DELAY="0.01",
    )
    with RunningProxy("--log-level", "debug", cwd=tmp_path, env=unreachable) as proxy:
        wrong = httpx.post(
            proxy.url + "/v1/chat/completions",
            json={"model": MODEL, "messages": ASK},
            headers={"Authorization": f"Bearer {client_key}x"},
        )
        assert wrong.status_code == 401
        failed = httpx.post(
            proxy.url + "/v1/chat/completions",
            json={"model": MODEL, "messages": ASK},
            headers={"Authorization": f"Bearer {client_key}"},
        )
        assert failed.status_code == 502
        assert TOKEN not in failed.text and client_key not in failed.text
        unreachable_metrics = httpx.get(proxy.url + "/metrics").text
        unreachable_output = proxy.output()

    assert "proxy_requests_total" in passthrough_metrics and "proxy_requests_total" in unreachable_metrics
    assert " chat " in passthrough_output and "pass-through:" in passthrough_output  # access lines name a fingerprint
    for output in (passthrough_output, unreachable_output, passthrough_metrics, unreachable_metrics):
        assert output.strip(), "the run logged nothing: the test would prove nothing"
        assert TOKEN not in output and client_key not in output
        assert "cf-secret" not in output  # no prefix of it either
