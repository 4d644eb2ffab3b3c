"""GET /v1/models from the account's catalogue, the bundled fallback, and task checks it drives."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import ACCOUNT, TOKEN, FakeUpstream, Reply, catalogue_entry, envelope_error


def test_models_list_from_the_account_catalogue(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_model_aliases={"gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct"})
    with openai_schema.sdk(server.url) as client:
        raw = client.models.with_raw_response.list()
    assert raw.headers["x-model-catalogue"] == "account"
    models = {m.id: m for m in raw.parse().data}
    llama = models["@cf/meta/llama-3.1-8b-instruct"].model_dump()
    assert llama["object"] == "model" and llama["owned_by"] == "meta" and llama["task"] == "Text Generation"
    assert llama["context_window"] == 131072 and llama["created"] == 1741211560
    assert models["@cf/meta/llama-3.3-70b-instruct-fp8-fast"].model_dump()["capabilities"]["tools"] is True
    assert models["@cf/baai/bge-base-en-v1.5"].model_dump()["task"] == "Text Embeddings"
    alias = models["gpt-4o-mini"].model_dump()
    assert alias["alias_for"] == "@cf/meta/llama-3.1-8b-instruct" and alias["task"] == "Text Generation"
    request = fake.catalogue_requests[0]
    assert request.path == f"/client/v4/accounts/{ACCOUNT}/ai/models/search"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_catalogue_pages_are_all_read(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    fake.catalogue = [catalogue_entry(f"@cf/acme/model-{i}", "Text Generation") for i in range(250)]
    server = start_proxy()
    models = httpx.get(server.url + "/v1/models").json()["data"]
    assert len([m for m in models if m["id"].startswith("@cf/acme/")]) == 250


def test_one_model_by_id(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy()
    with openai_schema.sdk(server.url) as client:
        model = client.models.retrieve("@cf/openai/gpt-oss-120b")
        assert model.id == "@cf/openai/gpt-oss-120b" and model.owned_by == "openai"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("@cf/acme/nothing")


def test_bundled_catalogue_when_the_token_may_not_list_models(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    fake.catalogue_reply = Reply(403, envelope_error(10000, "Authentication error"))
    server = start_proxy()
    response = httpx.get(server.url + "/v1/models")
    assert response.status_code == 200 and response.headers["x-model-catalogue"] == "bundled"
    ids = {m["id"] for m in response.json()["data"]}
    assert {"@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/baai/bge-base-en-v1.5"} <= ids
    asked = len(fake.catalogue_requests)
    httpx.get(server.url + "/v1/models")
    assert len(fake.catalogue_requests) == asked  # a refusal is not asked again on every request


def test_stale_catalogue_is_served_while_it_refreshes(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_models_ttl=0.3)
    httpx.get(server.url + "/v1/models")
    fake.catalogue.append(catalogue_entry("@cf/acme/brand-new", "Text Generation"))
    time.sleep(0.5)
    first = {m["id"] for m in httpx.get(server.url + "/v1/models").json()["data"]}
    assert "@cf/acme/brand-new" not in first  # stale, served at once
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "@cf/acme/brand-new" in {m["id"] for m in httpx.get(server.url + "/v1/models").json()["data"]}:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the catalogue was not refreshed in the background")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            {"model": "@cf/baai/bge-base-en-v1.5", "messages": [{"role": "user", "content": "x"}]},
        ),
        ("/v1/completions", {"model": "@cf/baai/bge-m3", "prompt": "x"}),
        ("/v1/embeddings", {"model": "@cf/meta/llama-3.1-8b-instruct", "input": "x"}),
        (
            "/v1/chat/completions",
            {"model": "@cf/black-forest-labs/flux-1-schnell", "messages": [{"role": "user", "content": "x"}]},
        ),
    ],
)
def test_the_catalogue_refuses_the_wrong_kind_of_model(
    start_proxy: StartProxy, fake: FakeUpstream, path: str, body: dict[str, Any]
) -> None:
    server = start_proxy()
    httpx.get(server.url + "/v1/models")  # the account's catalogue is loaded (the flux entry comes from it)
    response = httpx.post(server.url + path, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"
    assert fake.requests == []


def test_capabilities_prices_and_deprecation_come_from_the_account_catalogue(
    start_proxy: StartProxy, fake: FakeUpstream
) -> None:
    kimi = catalogue_entry("@cf/moonshotai/kimi-k2.6", "Text Generation")
    kimi["properties"] = [
        {"property_id": "context_window", "value": "262144"},
        {"property_id": "function_calling", "value": "true"},
        {"property_id": "reasoning", "value": "true"},
        {"property_id": "vision", "value": "false"},
        {"property_id": "require_workers_paid", "value": "true"},
        {"property_id": "async_queue", "value": "true"},
        {"property_id": "planned_deprecation_date", "value": "2027-01-31"},
        {
            "property_id": "price",
            "value": [
                {"unit": "per M input tokens", "price": 0.95, "currency": "USD"},
                {"unit": "per M output tokens", "price": 4.0, "currency": "USD"},
                {"unit": "per M cached input tokens", "price": 0.16, "currency": "USD"},
            ],
        },
    ]
    fake.catalogue.append(kimi)
    server = start_proxy()
    with openai_schema.sdk(server.url) as client:
        model = client.models.retrieve("@cf/moonshotai/kimi-k2.6").model_dump()
    assert model["context_window"] == 262144 and model["shutdown_date"] == "2027-01-31"
    assert model["capabilities"] == {"tools": True, "json": True, "vision": False, "reasoning": True}
    assert model["requires_workers_paid"] is True and model["async_queue"] is True
    assert {"unit": "per M cached input tokens", "price": 0.16, "currency": "USD"} in model["pricing"]


def test_the_emulators_models_carry_context_windows() -> None:
    from app.main import create_app
    from app.settings import Settings
    from tests.servers import ProxyServer

    server = ProxyServer(create_app(Settings(_env_file=None, proxy_emulator=True))).start()  # type: ignore[call-arg]
    try:
        with openai_schema.sdk(server.url) as client:
            models = {m.id: m.model_dump() for m in client.models.list().data}
    finally:
        server.stop()
    chat = [m for m in models.values() if m["task"] == "Text Generation"]
    assert chat and all(
        isinstance(m.get("context_window"), int) for m in chat if m["id"] != "@cf/nvidia/nemotron-3-120b-a12b"
    )
    assert models["@cf/openai/gpt-oss-120b"]["context_window"] == 128000
    assert "@cf/meta/llama-3.1-8b-instruct" not in models  # retired on 2026-05-30
