"""Upstream pacing: the proxy's own requests to a model stay under its requests per minute (Workers AI's published
rate against Cloudflare, or the model's `rpm`), waiting for the next window when that is within
PROXY_QUEUE_TIMEOUT, else a 429 `upstream_paced` before any upstream call."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.errors import RateLimited
from app.main import Seams
from app.pipeline.pacing import Pacer
from app.settings import ModelSettings, Settings
from app.stores.quotas import MemoryQuotas
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream
from tests.policies.test_keys_and_limits import Wall

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def chat(url: str) -> httpx.Response:
    body = {"model": LLAMA, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    return httpx.post(url + "/v1/chat/completions", json=body)


def test_over_the_pace_is_a_429_before_any_upstream_call(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(seams=Seams(wall_clock=Wall()), models={LLAMA: ModelSettings(rpm=2)}, proxy_queue_timeout=0)
    assert [chat(server.url).status_code for _ in range(2)] == [200, 200]
    calls = len(fake.requests)
    paced = chat(server.url)
    assert paced.status_code == 429 and paced.json()["error"]["code"] == "upstream_paced"
    assert paced.headers["Retry-After"] == "50" and len(fake.requests) == calls


def test_a_call_waits_for_the_next_window_within_the_queue_timeout() -> None:
    class Clock:
        now = 1_800_000_055.0  # five seconds before a window ends

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    pacer = Pacer(MemoryQuotas(clock), lambda model: 2, 10, clock, sleep)

    async def scenario() -> None:
        for _ in range(3):
            await pacer.pace(LLAMA)
        assert slept == [5.0]  # the third waited for the next minute
        for _ in range(1):
            await pacer.pace(LLAMA)
        with pytest.raises(RateLimited) as refused:  # the window is full again and the next is 60 s away
            await pacer.pace(LLAMA)
        assert refused.value.code == "upstream_paced"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, 300),  # Cloudflare's API: its published rate
        ({"cloudflare_api_base": "http://127.0.0.1:9/client/v4"}, None),  # a test double: none assumed
        ({"cloudflare_api_base": "http://127.0.0.1:9/client/v4", "proxy_upstream_pacing": "on"}, 300),
        ({"proxy_upstream_pacing": "off", "models": {LLAMA: ModelSettings(rpm=5)}}, None),
        ({"cloudflare_api_base": "http://127.0.0.1:9/client/v4", "models": {LLAMA: ModelSettings(rpm=5)}}, 5),
        ({"proxy_emulator": True}, None),
    ],
)
def test_which_pace_applies(settings: dict[str, Any], expected: int | None) -> None:
    loaded = Settings(_env_file=None, cloudflare_account_id="a", cloudflare_api_token="t", **settings)  # type: ignore[call-arg]
    assert loaded.upstream_rpm(LLAMA) == expected
    assert loaded.upstream_rpm("@cf/moonshotai/kimi-k2.6") in (None, 5, 20, 300)
