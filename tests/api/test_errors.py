"""Every failure reaches the client as an OpenAI error body with the status the SDK expects."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import TOKEN, FakeUpstream, Reply, envelope_error, sse
from tests.streams import data_payloads

MODEL = "@cf/meta/llama-3.1-8b-instruct"
HELLO = [{"role": "user", "content": "hi"}]
CHAT = {"model": MODEL, "messages": HELLO}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


# -- client mistakes ------------------------------------------------------------------------------
def test_malformed_json_is_a_400(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", content=b'{"model": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HELLO}, "model"),
        ({"model": MODEL}, "messages"),
        ({"model": MODEL, "messages": []}, "messages"),
        ({"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": MODEL, "messages": HELLO, "max_tokens": "many"}, "max_tokens"),
        ({"model": MODEL, "messages": HELLO, "temperature": -1}, "temperature"),
        ({"model": MODEL, "messages": HELLO, "n": 9}, "n"),
        ({"model": MODEL, "messages": HELLO, "logprobs": True}, "logprobs"),
        ({"model": MODEL, "messages": HELLO, "top_logprobs": 2}, "top_logprobs"),
        ({"model": MODEL, "messages": HELLO, "logit_bias": {"50256": -100}}, "logit_bias"),
        ({"model": MODEL, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ([1, 2], None),
    ],
)
def test_schema_violations_are_400s_naming_the_parameter(
    http: httpx.Client, fake: FakeUpstream, body: Any, param: str | None
) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert fake.requests == []


def test_unknown_fields_are_accepted(http: httpx.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/chat/completions", json={**CHAT, "metadata": {"a": "b"}, "store": False, "x_new": 1})
    assert response.status_code == 200
    assert "x_new" not in fake.last.body and "metadata" not in fake.last.body


def test_unknown_model_is_a_404_before_any_upstream_call(client: openai.OpenAI, fake: FakeUpstream) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nonexistent", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_found"
    assert fake.requests == []


@pytest.mark.parametrize("model", ["@cf/../../user/tokens", "@cf/meta/llama 3", "@cf/meta/x?y=1", "@cf/meta/a%2Fb"])
def test_model_ids_that_could_bend_the_upstream_url_are_refused(
    http: httpx.Client, fake: FakeUpstream, model: str
) -> None:
    response = http.post("/v1/chat/completions", json={"model": model, "messages": HELLO})
    assert response.status_code == 400
    assert error_of(response)["param"] == "model"
    assert fake.requests == []


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    missing = http.post("/v1/nothing-here", json={})
    assert missing.status_code == 404 and "Invalid URL" in error_of(missing)["message"]
    wrong = http.get("/v1/chat/completions")
    assert wrong.status_code == 405
    error_of(wrong)


# -- upstream verdicts ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code", "message", "expected_status", "sdk_error", "expected_code"),
    [
        (400, 5007, "No such model @cf/meta/nope or task", 404, openai.NotFoundError, "model_not_found"),
        (404, 3042, "The model name is invalid", 404, openai.NotFoundError, "model_not_found"),
        (400, 5006, "AiError: Bad input: must NOT have more than 100 items", 400, openai.BadRequestError, None),
        (401, 10000, "Authentication error", 401, openai.AuthenticationError, "invalid_api_key"),
        (403, 5016, "User has not agreed to Llama3.2 model terms", 403, openai.PermissionDeniedError, None),
        (
            403,
            5035,
            "This model requires the Workers Paid plan.",
            403,
            openai.PermissionDeniedError,
            "requires_workers_paid",
        ),
        (402, 2021, "Insufficient credits", 429, openai.RateLimitError, "insufficient_quota"),
        (503, 7013, "Guardrails service failure", 503, openai.InternalServerError, "upstream_error"),
        (424, 2016, "Prompt blocked due to security configurations", 400, openai.BadRequestError, "content_filter"),
        (424, 2017, "Response blocked due to security configurations", 400, openai.BadRequestError, "content_filter"),
        (422, 2017, "Content blocked", 400, openai.BadRequestError, "content_filter"),
        (401, 2009, "Unauthorized", 401, openai.AuthenticationError, "invalid_api_key"),
        (503, 0, "Unified Billing credentials were refused", 503, openai.InternalServerError, None),
        (413, 3006, "Request is too large", 413, openai.APIStatusError, "request_too_large"),
        (429, 3040, "No more data centers to forward the request to", 429, openai.RateLimitError, None),
        (500, 5000, "Internal error", 500, openai.InternalServerError, None),
        (503, 1000, "Service unavailable", 503, openai.InternalServerError, None),
    ],
)
def test_upstream_error_envelopes_map_to_openai_errors(
    client: openai.OpenAI,
    fake: FakeUpstream,
    status: int,
    code: int,
    message: str,
    expected_status: int,
    sdk_error: type[openai.APIStatusError],
    expected_code: str | None,
) -> None:
    fake.script(Reply(status, envelope_error(code, message)))
    with pytest.raises(sdk_error) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == expected_status
    assert message in caught.value.message
    if expected_code is not None:
        assert caught.value.code == expected_code


def test_rate_limit_keeps_retry_after(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded"), headers={"Retry-After": "7"}))
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert error_of(response)["code"] == "rate_limit_exceeded"


def test_daily_quota_exhaustion_says_when_it_resets(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Reply(429, envelope_error(4006, "AiError: you have used up your daily free allocation")))
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 86400
    assert error_of(response)["type"] == "insufficient_quota"


def test_gateway_and_openai_style_error_bodies(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(
        Reply(401, {"success": False, "error": [{"code": 2009, "message": "Unauthorized"}]}),
        Reply(400, {"error": {"message": "bad thing", "type": "invalid_request_error"}}),
        Reply(502, body=b"<html>bad gateway</html>", content_type="text/html"),
        Reply(503, body=b"upstream connect error", content_type="text/plain"),
    )
    first = http.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == 401 and "Unauthorized" in error_of(first)["message"]
    second = http.post("/v1/chat/completions", json=CHAT)
    assert second.status_code == 400 and "bad thing" in error_of(second)["message"]
    third = http.post("/v1/chat/completions", json=CHAT)  # an HTML page is not a message: its bytes stay out
    assert third.status_code == 502 and error_of(third)["message"] == "Workers AI returned HTTP 502"
    fourth = http.post("/v1/chat/completions", json=CHAT)  # plain text is Cloudflare's message, kept
    assert fourth.status_code == 503 and error_of(fourth)["message"] == "upstream connect error"


def test_success_false_with_http_200_is_an_error(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Reply(200, envelope_error(5007, "No such model @cf/meta/x or task")))
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 404


def test_non_json_success_is_a_502(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Reply(200, body=b"not json", content_type="text/plain"))
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 502
    error_of(response)


def test_stream_request_refused_upstream_is_a_plain_http_error(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(429, envelope_error(3040, "Capacity temporarily exceeded")))
    with pytest.raises(openai.RateLimitError):
        list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]


def test_error_event_mid_stream_becomes_an_error_frame(http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "a"}), sse(envelope_error(3040, "capacity"))]))
    text = http.post("/v1/chat/completions", json={**CHAT, "stream": True}).text
    frames = data_payloads(text)
    assert '"error"' in frames[-2] and "capacity" in frames[-2]
    assert frames[-1] == "[DONE]"


def test_malformed_stream_event_becomes_an_error_frame(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Reply(chunks=[sse({"response": "a"}), b"data: {not json\n\n", sse(b"[DONE]")]))
    with pytest.raises(openai.APIError, match="malformed"):
        list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]


# -- transport failures ---------------------------------------------------------------------------
def test_unreachable_upstream_is_a_502(start_proxy: StartProxy) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    fake_base = FakeUpstream()
    fake_base.port = closed_port
    server = start_proxy(cloudflare_api_base=fake_base.base_url)
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=20)
    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_unreachable"


def test_upstream_timeout_is_a_504(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_first_byte_timeout=0.5)
    fake.script(Reply(json={"result": {"response": "late"}, "success": True}, delay=2))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, timeout=20)
    assert response.status_code == 504
    assert error_of(response)["type"] == "timeout_error"


# -- client authentication ------------------------------------------------------------------------
def test_client_keys_are_required_when_configured(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_api_keys="key-one,key-two")
    url = server.url + "/v1/chat/completions"
    missing = httpx.post(url, json=CHAT)
    assert missing.status_code == 401 and error_of(missing)["code"] == "invalid_api_key"
    wrong = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer key-three"})
    assert wrong.status_code == 401
    assert fake.requests == []
    good = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer key-two"})
    assert good.status_code == 200
    assert fake.last.headers["Authorization"] == f"Bearer {TOKEN}"


def test_pass_through_forwards_the_client_token(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(cloudflare_api_token=None)
    with openai_schema.sdk(server.url, api_key=TOKEN) as sdk:
        reply = sdk.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
    assert reply.choices[0].message.content
    assert fake.last.headers["Authorization"] == f"Bearer {TOKEN}"
    missing = httpx.post(server.url + "/v1/chat/completions", json=CHAT)
    assert missing.status_code == 401


def test_tokens_never_appear_in_error_replies(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(cloudflare_api_token=None)
    fake.script(Reply(401, envelope_error(10000, f"Authentication error for token {TOKEN}")))
    response = httpx.post(server.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401
    assert TOKEN not in response.text
    assert "[redacted]" in response.text
