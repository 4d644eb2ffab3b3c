"""Wire fidelity found by real clients and OpenAI's own schema (issue 10): each a regression test through the
real server, with the official SDK where it can see the difference and raw HTTP where it cannot."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import TOKEN, FakeUpstream
from tests.streams import json_frames

MODEL = "@cf/meta/llama-3.1-8b-instruct"
ASK = [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize("key", ["x", "e", "model", "sk-1"])
def test_short_placeholder_keys_do_not_mangle_messages(start_proxy: StartProxy, fake: FakeUpstream, key: str) -> None:
    """Regression: with the key `x` an unknown model read "does not e[redacted]ist"."""
    server = start_proxy(proxy_api_keys=[key])
    with openai_schema.sdk(server.url, api_key=key) as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o-mini-typo", messages=ASK)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "[redacted]" not in message and "does not exist" in message and "model" in message


def test_long_keys_and_the_server_token_are_still_redacted(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    from tests.fake_upstream import Reply, envelope_error

    key = "sk-team-a-0123456789abcdef"
    server = start_proxy(proxy_api_keys=[key])
    fake.script(Reply(400, envelope_error(5006, f"bad input near {TOKEN} and {key} and {key[:8]}")))
    reply = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": MODEL, "messages": ASK},
        headers={"Authorization": f"Bearer {key}"},
    )
    message = reply.json()["error"]["message"]
    assert TOKEN not in message and key not in message and message.count("[redacted]") == 2


# -- x-request-id -------------------------------------------------------------------------------------
def test_every_reply_carries_a_request_id(client: Any, http: httpx.Client, fake: FakeUpstream) -> None:
    plain = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK)
    assert plain.headers["x-request-id"].startswith("req_") and plain.request_id == plain.headers["x-request-id"]
    assert plain.parse()._request_id == plain.request_id
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=ASK, stream=True) as stream:
        assert stream.headers["x-request-id"].startswith("req_")
    error = http.post("/v1/chat/completions", json={"model": "nope", "messages": ASK})
    assert error.status_code == 404 and error.headers["x-request-id"].startswith("req_")
    unknown_path = http.get("/v1/nothing-here")
    assert unknown_path.status_code == 404 and unknown_path.headers["x-request-id"].startswith("req_")
    ids = {plain.request_id, error.headers["x-request-id"], unknown_path.headers["x-request-id"]}
    assert len(ids) == 3


def test_a_sane_client_request_id_is_kept_and_a_hostile_one_replaced(http: httpx.Client, fake: FakeUpstream) -> None:
    kept = http.get("/v1/models", headers={"x-request-id": "trace-42.abc:1"})
    assert kept.headers["x-request-id"] == "trace-42.abc:1"
    for hostile in ("a" * 500, "bad id", "x\u00e9"):
        replaced = http.get("/v1/models", headers={"x-request-id": hostile.encode("utf-8")})
        assert replaced.headers["x-request-id"].startswith("req_")


# -- stream frames ------------------------------------------------------------------------------------
def test_with_include_usage_every_chunk_before_the_usage_chunk_says_usage_null(
    http: httpx.Client, fake: FakeUpstream
) -> None:
    body = {"model": MODEL, "messages": ASK, "stream": True, "stream_options": {"include_usage": True}}
    frames = json_frames(http.post("/v1/chat/completions", json=body).text)
    assert frames[-1]["choices"] == [] and frames[-1]["usage"]["total_tokens"] > 0
    assert all("usage" in frame and frame["usage"] is None for frame in frames[:-1])
    without = json_frames(http.post("/v1/chat/completions", json={**body, "stream_options": None}).text)
    assert all("usage" not in frame for frame in without)
    prompt = {"model": MODEL, "prompt": "Once", "stream": True, "stream_options": {"include_usage": True}}
    legacy = json_frames(http.post("/v1/completions", json=prompt).text)
    assert all(frame["usage"] is None for frame in legacy[:-1]) and legacy[-1]["usage"]["total_tokens"] > 0


def test_messages_carry_refusal_and_annotations(client: Any, fake: FakeUpstream) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK)
    message = json.loads(raw.text)["choices"][0]["message"]
    assert message["refusal"] is None and message["annotations"] == []


# -- out-of-range sampling values ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("top_p", 1.5),
        ("frequency_penalty", -2.5),
        ("presence_penalty", 3),
        ("n", 0),
        ("max_tokens", 0),
        ("max_completion_tokens", 0),
        ("top_k", 0),
        ("top_k", 51),
        ("repetition_penalty", 2.5),
    ],
)
def test_out_of_range_sampling_values_are_400s_naming_the_parameter(
    client: Any, fake: FakeUpstream, field: str, value: float
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ASK, extra_body={field: value})
    assert caught.value.param == field  # type: ignore[attr-defined]
    assert fake.requests == []


def test_values_at_the_edges_of_their_ranges_are_accepted(client: Any, fake: FakeUpstream) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=ASK, temperature=2, top_p=1, frequency_penalty=-2, presence_penalty=2, n=1
    )
    assert reply.choices[0].message.content


# -- models that are unknown, retired or on their way out ---------------------------------------------
def test_a_retired_model_is_a_404_naming_its_successor(client: Any, fake: FakeUpstream) -> None:
    from tests.fake_upstream import Reply, envelope_error

    fake.script(Reply(400, envelope_error(5007, "No such model @cf/meta/llama-3.1-8b-instruct or task")))
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="@cf/meta/llama-3.1-8b-instruct", messages=ASK)
    assert caught.value.param == "model"  # type: ignore[attr-defined]
    assert "@cf/meta/llama-3.1-8b-instruct-fast" in caught.value.message and "2026-05-30" in caught.value.message


def test_a_mistyped_id_and_a_mistyped_alias_get_the_same_404_with_the_closest_ids(
    client: Any, fake: FakeUpstream
) -> None:
    from tests.fake_upstream import Reply, envelope_error

    typo = "@cf/meta/llama-3.3-70b-instruct-fp8-fsat"
    fake.script(Reply(400, envelope_error(5007, f"No such model {typo} or task")))
    with pytest.raises(openai.NotFoundError) as by_id:
        client.chat.completions.create(model=typo, messages=ASK)
    with pytest.raises(openai.NotFoundError) as by_alias:
        client.chat.completions.create(model="gpt-4o-mni", messages=ASK)
    for caught, closest in ((by_id, "@cf/meta/llama-3.3-70b-instruct-fp8-fast"), (by_alias, "gpt-4o-mini")):
        assert caught.value.param == "model" and caught.value.code == "model_not_found"  # type: ignore[attr-defined]
        assert "Closest known models" in caught.value.message and closest in caught.value.message


def test_deprecated_models_say_so_in_a_header_and_once_in_the_log(
    start_proxy: StartProxy, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.fake_upstream import catalogue_entry

    entry = catalogue_entry("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "Text Generation")
    entry["properties"] = [{"property_id": "planned_deprecation_date", "value": "2027-03-01"}]
    fake.catalogue = [entry]
    server = start_proxy()
    with openai_schema.sdk(server.url) as client, caplog.at_level("WARNING", logger="workers_ai_proxy"):
        for _ in range(3):
            raw = client.chat.completions.with_raw_response.create(model=entry["name"], messages=ASK)
            assert raw.headers["x-model-deprecation"] == "2027-03-01"
        still_served = client.chat.completions.with_raw_response.create(model=MODEL, messages=ASK)
        assert still_served.headers["x-model-deprecation"] == "2026-05-30"  # retired, yet this account serves it
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert len([w for w in warnings if entry["name"] in w]) == 1


def test_the_catalogue_decides_capabilities_and_the_default_budget(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    from tests.fake_upstream import catalogue_entry

    small = catalogue_entry("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "Text Generation")
    small["properties"] = [
        {"property_id": "context_window", "value": "1000"},
        {"property_id": "function_calling", "value": "false"},
    ]
    fake.catalogue = [small]
    server = start_proxy()
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with openai_schema.sdk(server.url) as client:
        client.chat.completions.create(model=small["name"], messages=ASK)
        assert fake.last.body["max_tokens"] == 1000  # PROXY_DEFAULT_MAX_TOKENS (4096) capped by the window
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=small["name"], messages=ASK, tools=tools)
        assert caught.value.param == "tools"  # type: ignore[attr-defined]


# -- prefix caching -------------------------------------------------------------------------------------
def test_session_affinity_follows_the_conversation_or_the_prompt_cache_key(
    client: Any, fake: FakeUpstream, start_proxy: StartProxy
) -> None:
    system = {"role": "system", "content": "You are a helpful assistant for the Acme docs."}
    first = [system, {"role": "user", "content": "How do I install it?"}]
    later = [*first, {"role": "assistant", "content": "pip install acme"}, {"role": "user", "content": "And run?"}]
    other = [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "How do I install it?"}]
    ids = []
    for messages in (first, later, other):
        client.chat.completions.create(model=MODEL, messages=messages)
        ids.append(fake.last.headers["x-session-affinity"])
    assert ids[0] == ids[1] != ids[2]
    client.chat.completions.create(model=MODEL, messages=first, extra_body={"prompt_cache_key": "docs-bot-v2"})
    assert fake.last.headers["x-session-affinity"] == "docs-bot-v2"
    server = start_proxy(proxy_upstream="openai")  # documented for /ai/run only: not sent elsewhere
    with openai_schema.sdk(server.url) as openai_route:
        openai_route.chat.completions.create(model=MODEL, messages=first)
    assert "x-session-affinity" not in {name.lower() for name in fake.last.headers}


def test_cached_and_reasoning_tokens_are_relayed(client: Any, fake: FakeUpstream) -> None:
    from tests.fake_upstream import Reply, sse

    usage = {
        "prompt_tokens": 900,
        "completion_tokens": 40,
        "total_tokens": 940,
        "prompt_tokens_details": {"cached_tokens": 768},
        "completion_tokens_details": {"reasoning_tokens": 25},
    }
    fake.script(
        Reply(json={"result": {"response": "Hi", "usage": usage}, "success": True}),
        Reply(chunks=[sse({"response": "Hi"}), sse({"response": "", "usage": usage}), sse(b"[DONE]")]),
    )
    reply = client.chat.completions.create(model=MODEL, messages=ASK)
    assert reply.usage.prompt_tokens_details.cached_tokens == 768
    assert reply.usage.completion_tokens_details.reasoning_tokens == 25
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=ASK, stream=True, stream_options={"include_usage": True})
    )
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 768
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 25


def test_an_in_band_stream_error_never_carries_the_server_token(http: httpx.Client, fake: FakeUpstream) -> None:
    from tests.fake_upstream import Reply, sse

    fake.script(Reply(chunks=[sse({"response": "a "}), sse({"error": f"internal failure for Bearer {TOKEN}"})]))
    body = http.post("/v1/chat/completions", json={"model": MODEL, "messages": ASK, "stream": True}).text
    error = json_frames(body)[-1]["error"]
    assert TOKEN not in body and "[redacted]" in error["message"] and body.rstrip().endswith("[DONE]")
