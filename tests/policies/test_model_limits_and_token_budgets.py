"""Limits per key and model, budgets in tokens, and PROXY_BUDGET_FALLBACK (a request over a budget served by a
fallback model it can still afford), through the real server on the embedded backend; the `keys` command's and the
admin API's spellings of them; a state database made before these existed gains their columns."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from app.main import Seams
from app.stores.keys import ModelLimit
from app.stores.sqlite import SQLiteState
from tests.conftest import StartProxy
from tests.fake_upstream import FakeUpstream
from tests.policies.test_budgets import MIDNIGHT, WALL_NOW
from tests.policies.test_keys_and_limits import Wall, keys_command, make_key

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
SMALL = "@cf/meta/llama-3.2-1b-instruct"
EIGHT_B = "@cf/meta/llama-3.1-8b-instruct"
HELLO = [{"role": "user", "content": "Hello"}]


def chat(url: str, key: str, model: str = LLAMA, **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": HELLO, "max_tokens": 100, **body}
    return httpx.post(url + "/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"})


def test_requests_per_minute_per_key_and_model(start_proxy: StartProxy, tmp_path: Path, fake: FakeUpstream) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "mixed", rpm=10, model_limits=(ModelLimit("@cf/meta/llama-3.3-*", rpm=2),))
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)
    first, second = chat(server.url, key), chat(server.url, key)
    assert (first.status_code, second.status_code) == (200, 200)
    # the model's limit is the one closest to its end: its figures are the headers'
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert [first.headers["x-ratelimit-remaining-requests"], second.headers["x-ratelimit-remaining-requests"]] == [
        "1",
        "0",
    ]
    calls = len(fake.requests)
    refused = chat(server.url, key)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "50"
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and f"on model {LLAMA!r}" in error["message"]
    assert len(fake.requests) == calls
    other = chat(server.url, key, EIGHT_B)  # another model: only the key's own 10 per minute apply
    assert other.status_code == 200 and other.headers["x-ratelimit-remaining-requests"] == "7"


def test_tokens_per_minute_per_key_and_model(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "tpm", model_limits=(ModelLimit(LLAMA, tpm=300),))
    server = start_proxy(seams=Seams(wall_clock=Wall()), proxy_state_path=state)
    assert chat(server.url, key, max_tokens=100).headers["x-ratelimit-limit-tokens"] == "300"
    too_big = chat(server.url, key, max_tokens=400)
    assert too_big.status_code == 429 and "Request too large" in too_big.json()["error"]["message"]
    assert "x-ratelimit-limit-tokens" not in chat(server.url, key, EIGHT_B, max_tokens=400).headers


def test_a_daily_budget_in_tokens(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "counted", daily_tokens=200)
    wall = Wall()
    wall.now = WALL_NOW
    server = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state)
    first = chat(server.url, key)
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    assert int(first.headers["x-budget-remaining-tokens"]) < 200 - 100  # the prompt and max_tokens were held
    assert "x-budget-remaining-neurons" not in first.headers
    second = chat(server.url, key)
    assert second.status_code == 200
    assert int(second.headers["x-budget-remaining-tokens"]) < 200 - used - 100
    statuses = [chat(server.url, key).status_code for _ in range(20)]
    assert 429 in statuses
    refused = chat(server.url, key)
    error = refused.json()["error"]
    assert error["type"] == "insufficient_quota" and "200 tokens" in error["message"]
    assert refused.headers["Retry-After"] == "3600"
    server.stop()
    restarted = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state)
    assert chat(restarted.url, key).status_code == 429  # the tokens spent are read back from the ledger
    wall.now = MIDNIGHT + 1
    assert chat(restarted.url, key).status_code == 200


def test_over_budget_a_cheaper_fallback_serves(start_proxy: StartProxy, tmp_path: Path, fake: FakeUpstream) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "frugal", daily_neurons=30)
    wall = Wall()
    wall.now = WALL_NOW
    server = start_proxy(
        seams=Seams(wall_clock=wall),
        proxy_state_path=state,
        proxy_budget_fallback=True,
        proxy_fallbacks={LLAMA: [SMALL]},
    )
    first = chat(server.url, key)
    assert first.status_code == 200 and first.headers["x-served-model"] == LLAMA
    second = chat(server.url, key)  # the 70B's worst case no longer fits; the 1B's does
    assert second.status_code == 200, second.text
    assert second.headers["x-served-model"] == SMALL and second.headers["x-proxy-budget-fallback"] == LLAMA
    assert SMALL in fake.last.path
    assert chat(server.url, key).headers["x-served-model"] == SMALL  # while the budget lasts out
    refused = chat(server.url, key, max_tokens=4000)  # no model of the chain can afford this one's worst case
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "insufficient_quota" and "daily budget" in refused.text


def test_without_budget_fallback_over_budget_is_a_429(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "strict", daily_neurons=30)
    wall = Wall()
    wall.now = WALL_NOW
    server = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state, proxy_fallbacks={LLAMA: [SMALL]})
    assert chat(server.url, key).status_code == 200
    assert chat(server.url, key).status_code == 429


def test_the_keys_command_and_admin_api_set_them(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    made = keys_command(
        state,
        "create",
        "--name",
        "team-c",
        "--model-rpm",
        "@cf/meta/*=5",
        "--model-tpm",
        "@cf/meta/*=900",
        "--model-rpm",
        "@cf/qwen/*=2",
        "--daily-tokens",
        "100000",
        "--monthly-neurons",
        "9000",
    )
    assert made.returncode == 0, made.stderr
    listed = keys_command(state, "list").stdout
    assert "@cf/meta/*: 5 rpm 900 tpm; @cf/qwen/*: 2 rpm" in listed and "100000 tokens" in listed
    assert "9000 neurons" in listed
    assert keys_command(state, "create", "--name", "bad", "--model-rpm", "no-number").returncode == 2

    async def stored() -> Any:
        store = SQLiteState(state)
        try:
            return await store.all()
        finally:
            store.close()

    (record,) = asyncio.run(stored())
    assert record.model_limits == (ModelLimit("@cf/meta/*", 5, 900), ModelLimit("@cf/qwen/*", 2, None))
    assert record.daily_tokens == 100000 and record.monthly_neurons == 9000
    admin = {"Authorization": "Bearer sk-admin-0123456789abcdef"}
    server = start_proxy(proxy_admin_key="sk-admin-0123456789abcdef", proxy_state_path=state)
    body = {"name": "team-d", "model_limits": [{"pattern": "@cf/meta/*", "rpm": 3}], "monthly_tokens": 5000}
    created = httpx.post(server.url + "/admin/keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["model_limits"] == [{"pattern": "@cf/meta/*", "rpm": 3, "tpm": None}]
    assert shown["monthly_tokens"] == 5000
    bad = httpx.post(server.url + "/admin/keys", json={"name": "x", "model_limits": [{"rpm": 3}]}, headers=admin)
    assert bad.status_code == 400


def test_a_database_from_before_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE keys (name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, models TEXT NOT NULL DEFAULT '[]',
        rpm INTEGER, tpm INTEGER, daily_neurons INTEGER, monthly_neurons INTEGER, expires REAL,
        revoked INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
        INSERT INTO keys VALUES ('old', 'abc', '[]', 5, NULL, NULL, NULL, NULL, 0, 1.0);"""
    )
    db.commit()
    db.close()

    async def read() -> Any:
        store = SQLiteState(path)
        try:
            return await store.all()
        finally:
            store.close()

    (record,) = asyncio.run(read())
    assert record.name == "old" and record.rpm == 5 and record.model_limits == () and record.daily_tokens is None
