"""Named keys and rate limits through the real server on the embedded backend: keys made by the `keys` command
(only their hash kept), restricted to models (403), expired and revoked (401); requests and tokens per minute,
checked and reserved before any upstream call, reconciled when the request settles, never leaking; OpenAI's
rate-limit headers; a 429 with Retry-After. The windows run on an injected clock."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.main import Seams
from app.stores.keys import KeyRecord, key_hash
from app.stores.sqlite import SQLiteState
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream, Reply, envelope_error
from tests.openai_schema import sdk

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HELLO = [{"role": "user", "content": "Hello"}]
NOW = 1_800_000_010.0  # ten seconds into a minute


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def keys_command(state: Path, *args: str, redis: str | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {"PATH": "/usr/bin:/bin", "PROXY_STATE_PATH": str(state), **({"PROXY_REDIS_URL": redis} if redis else {})}
    return subprocess.run([sys.executable, "-c", code, "keys", *args], capture_output=True, text=True, env=env)


def make_key(state: Path, name: str, **limits: Any) -> str:
    record = KeyRecord(name, key_hash(f"sk-{name}"), created=NOW, **limits)

    async def create() -> None:
        store = SQLiteState(state)
        await store.create(record)
        store.close()

    asyncio.run(create())
    return f"sk-{name}"


def chat(server_url: str, key: str, **body: Any) -> httpx.Response:
    payload = {"model": LLAMA, "messages": HELLO, **body}
    return httpx.post(server_url + "/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"})


def test_the_keys_command_makes_a_key_the_server_takes(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "keys.sqlite3"
    made = keys_command(state, "create", "--name", "team-a", "--rpm", "60", "--models", "@cf/meta/*")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("wap-") and "shown only this once" in made.stderr
    stored = sqlite3.connect(state).execute("SELECT key_hash FROM keys").fetchall()
    assert stored == [(key_hash(key),)] and key not in state.read_bytes().decode("latin-1")  # the hash only
    listed = keys_command(state, "list")
    assert "team-a" in listed.stdout and "@cf/meta/*" in listed.stdout and key not in listed.stdout
    server = start_proxy(proxy_state_path=state)
    with sdk(server.url, key) as client:
        assert client.chat.completions.create(model=LLAMA, messages=HELLO).choices  # type: ignore[arg-type]
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client.chat.completions.create(model="@cf/openai/gpt-oss-120b", messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.code == "model_not_allowed"
    with sdk(server.url, "wap-not-a-key") as client, pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert httpx.get(server.url + "/v1/models").status_code == 401  # once a named key exists, every request needs one
    assert keys_command(state, "revoke", "team-a").returncode == 0
    assert keys_command(state, "revoke", "team-a").returncode == 1
    restarted = start_proxy(proxy_state_path=state)  # a running proxy would see it within a second, too
    with sdk(restarted.url, key) as client, pytest.raises(openai.AuthenticationError) as revoked:
        client.models.list()
    assert revoked.value.code == "key_revoked"


def test_an_expired_key_is_a_401(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "keys.sqlite3"
    key = make_key(state, "old", expires=NOW - 1)
    fresh = make_key(state, "fresh", expires=NOW + 3600)
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)
    expired = chat(server.url, key)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "key_expired"
    assert chat(server.url, fresh).status_code == 200


def test_requests_per_minute(start_proxy: StartProxy, tmp_path: Path, fake: FakeUpstream) -> None:
    state = tmp_path / "keys.sqlite3"
    key = make_key(state, "small", rpm=3)
    wall = Wall()
    server = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state)
    replies = [chat(server.url, key, max_tokens=5) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in replies] == ["2", "1", "0"]
    assert replies[0].headers["x-ratelimit-limit-requests"] == "3"
    assert replies[0].headers["x-ratelimit-reset-requests"] == "50s"
    calls = len(fake.requests)
    refused = chat(server.url, key, max_tokens=5)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "50"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and "requests per minute" in refused.text
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(fake.requests) == calls  # refused before any upstream call
    wall.now += 50  # the next minute
    assert chat(server.url, key, max_tokens=5).status_code == 200


def test_exactly_the_limit_is_admitted_under_concurrent_load(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "keys.sqlite3"
    key = make_key(state, "busy", rpm=20)
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"model": LLAMA, "messages": HELLO, "max_tokens": 5}
            headers = {"Authorization": f"Bearer {key}"}
            replies = await asyncio.gather(
                *(client.post(server.url + "/v1/chat/completions", json=body, headers=headers) for _ in range(50))
            )
        return [reply.status_code for reply in replies]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 20 and statuses.count(429) == 30


def test_tokens_are_reserved_then_reconciled(start_proxy: StartProxy, tmp_path: Path, fake: FakeUpstream) -> None:
    """The reservation is the prompt (estimated) and the token budget; what is left after a request is the limit
    minus what it really used; a failed request gives everything back."""
    state = tmp_path / "keys.sqlite3"
    key = make_key(state, "tokens", tpm=1000)
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)
    first = chat(server.url, key, max_tokens=600)
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    reserved_remaining = int(first.headers["x-ratelimit-remaining-tokens"])
    assert reserved_remaining < 1000 - 600  # the reply's header: what was left with the reservation held
    second = chat(server.url, key, max_tokens=600)  # fits only because the first gave back what it did not use
    assert second.status_code == 200
    assert int(second.headers["x-ratelimit-remaining-tokens"]) == 1000 - used - (1000 - reserved_remaining)
    too_big = chat(server.url, key, max_tokens=2000)
    assert too_big.status_code == 429 and "Request too large" in too_big.json()["error"]["message"]
    fake.script(Reply(500, envelope_error(3043, "Internal server error")))
    assert chat(server.url, key, max_tokens=600).status_code >= 500
    assert chat(server.url, key, max_tokens=600).status_code == 200  # fits only if the failure gave its 600 back


def test_streams_are_charged_what_they_used(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "keys.sqlite3"
    key = make_key(state, "streams", tpm=1000)
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)
    with sdk(server.url, key) as client:
        for _ in range(3):  # 3 x 600 reserved would not fit: each stream gives back what it did not use
            stream = client.chat.completions.create(
                model=LLAMA, messages=HELLO, max_tokens=600, stream=True, stream_options={"include_usage": True}
            )  # type: ignore[call-overload]
            chunks = list(stream)
            assert chunks[-1].usage is not None


def test_server_wide_defaults_apply_to_every_key(start_proxy: StartProxy) -> None:
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_api_keys=["sk-team-0123456789"], proxy_key_rpm=2)
    statuses = [chat(server.url, "sk-team-0123456789", max_tokens=5).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
