"""Budgets in neurons through the real server: a key's daily budget and the account's (PROXY_DAILY_NEURONS), the
worst case reserved before the call and the real cost kept after it, a 429 `insufficient_quota` with Retry-After
to 00:00 UTC, the remaining budget on replies, and what was spent surviving a restart (read from the ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.main import Seams
from app.models.prices import RATES, worst_case
from tests.conftest import StartProxy
from tests.policies.test_keys_and_limits import Wall, make_key

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HELLO = [{"role": "user", "content": "Hello"}]
MIDNIGHT = 1_800_057_600.0  # a 00:00 UTC
WALL_NOW = MIDNIGHT - 3600  # 23:00 UTC


def chat(url: str, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    payload = {"model": LLAMA, "messages": HELLO, "max_tokens": 100, **body}
    return httpx.post(url + "/v1/chat/completions", json=payload, headers=headers)


def test_a_keys_daily_budget(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    key = make_key(state, "thrifty", daily_neurons=30)
    wall = Wall()
    wall.now = WALL_NOW
    server = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state)
    first = chat(server.url, key)
    assert first.status_code == 200
    reserved = worst_case(RATES[LLAMA], 100)
    assert int(first.headers["x-budget-remaining-neurons"]) <= 30 - reserved  # the worst case was held
    refused = chat(server.url, key)  # 30 minus the first's real cost leaves less than this one's worst case
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "insufficient_quota" and "daily budget" in error["message"]
    assert refused.headers["Retry-After"] == "3600"
    assert chat(server.url, key, max_tokens=5).status_code == 200  # a smaller worst case still fits
    server.stop()  # a restart: the ledger is written out at shutdown
    restarted = start_proxy(seams=Seams(wall_clock=wall), proxy_state_path=state)
    assert chat(restarted.url, key).status_code == 429  # what was spent is read back from the ledger
    wall.now = MIDNIGHT + 1  # a new day
    assert chat(restarted.url, key).status_code == 200


def test_the_accounts_daily_guard_counts_every_key(start_proxy: StartProxy) -> None:
    wall = Wall()
    wall.now = WALL_NOW
    server = start_proxy(seams=Seams(wall_clock=wall), proxy_daily_neurons=60)
    statuses = [chat(server.url).status_code for _ in range(20)]  # each costs ~5 and reserves ~26 neurons
    assert statuses[:5] == [200] * 5 and 429 in statuses
    refused = chat(server.url)
    assert refused.status_code == 429 and "PROXY_DAILY_NEURONS" in refused.json()["error"]["message"]
    assert "x-budget-remaining-neurons" not in chat(server.url, max_tokens=1).headers  # no key budget: no header
