"""Fuzz the HTTP surface from the app's own OpenAPI document: whatever a client sends, valid or not, the
proxy answers below 500, and every refusal is the protocol's error envelope (OpenAI's; Anthropic's on
/v1/messages).

The proxy runs on its built-in emulator so that both ends are ours: an upstream 5xx here would be a bug
too. Examples are derandomised (CI stays reproducible); FUZZ_EXAMPLES raises the count and FUZZ_RANDOM=1
explores new inputs on each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.servers import ProxyServer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "45"))  # per operation; ~40 operations now (suite under 3 minutes)


@pytest.fixture(scope="module")
def emulated() -> Iterator[ProxyServer]:
    from app.main import create_app
    from app.settings import Settings

    settings_ = Settings(
        _env_file=None,  # type: ignore[call-arg]
        proxy_emulator=True,
        proxy_emulator_token_delay_ms=0,
        proxy_max_retries=0,
        proxy_breaker_threshold=1_000_000,
    )
    server = ProxyServer(create_app(settings_)).start()
    yield server
    server.stop()


def operations(server: ProxyServer) -> list[Any]:
    schema = schemathesis.openapi.from_dict(server.app.openapi())
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_input_gets_a_server_error(emulated: ProxyServer, mode: GenerationMode) -> None:
    checked = 0
    for operation in operations(emulated):
        if mode is GenerationMode.NEGATIVE and not operation.body:
            continue  # nothing to make invalid: a path parameter that is any string is never wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=os.environ.get("FUZZ_RANDOM") is None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(base_url=emulated.url, timeout=60)
            label = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            assert response.status_code < 500, label
            if response.status_code >= 400 and case.formatted_path.startswith("/v1/messages"):
                body = response.json()  # Anthropic's envelope
                assert body["type"] == "error" and {"message", "type"} <= set(body["error"]), label
            elif response.status_code >= 400:
                error = response.json()["error"]
                assert {"message", "type", "param", "code"} <= set(error), label

        call()
        checked += 1
    # every operation when valid; the four with a body when not
    assert checked >= (8 if mode is GenerationMode.POSITIVE else 4)
