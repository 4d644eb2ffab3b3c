"""Named keys over HTTP (`/admin/keys`, PROXY_ADMIN_KEY): made (shown once), listed with today's usage (never the
key or its hash), revoked (the key stops working within a second); refused to anyone but the admin key."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import StartProxy
from tests.policies.test_keys_and_limits import keys_command

ADMIN = {"Authorization": "Bearer sk-admin-0123456789abcdef"}
LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def test_keys_are_made_listed_and_revoked_over_http(start_proxy: StartProxy, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    server = start_proxy(proxy_admin_key="sk-admin-0123456789abcdef", proxy_state_path=state)
    body = {"name": "team-b", "models": ["@cf/meta/*"], "rpm": 30, "daily_neurons": 5000, "expires": "2099-01-01"}
    made = httpx.post(server.url + "/admin/keys", json=body, headers=ADMIN)
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert key.startswith("wap-") and made.json()["rpm"] == 30 and made.json()["state"] == "active"
    again = httpx.post(server.url + "/admin/keys", json=body, headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_exists"
    user = {"Authorization": f"Bearer {key}"}
    chat = {"model": LLAMA, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    deadline = time.monotonic() + 10
    while (reply := httpx.post(server.url + "/v1/chat/completions", json=chat, headers=user)).status_code == 401:
        assert time.monotonic() < deadline, reply.text  # the guard looks again at most a second later
        time.sleep(0.1)
    assert reply.status_code == 200
    listed = httpx.get(server.url + "/admin/keys", headers=ADMIN).json()["data"]
    (row,) = listed
    assert row["name"] == "team-b" and row["usage_today"]["requests"] == 1 and row["usage_today"]["neurons"] > 0
    assert "key" not in row and "key_hash" not in row and key not in str(listed)
    assert "1 requests" in keys_command(state, "list").stdout  # the command reads the same ledger
    revoked = httpx.delete(server.url + "/admin/keys/team-b", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert httpx.delete(server.url + "/admin/keys/team-b", headers=ADMIN).status_code == 404
    deadline = time.monotonic() + 10
    while (reply := httpx.post(server.url + "/v1/chat/completions", json=chat, headers=user)).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "key_revoked"


def test_only_the_admin_key_opens_them(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_admin_key="sk-admin-0123456789abcdef")
    assert httpx.get(server.url + "/admin/keys").status_code == 401
    assert httpx.get(server.url + "/admin/keys", headers={"Authorization": "Bearer nope"}).status_code == 403
    bad = httpx.post(server.url + "/admin/keys", json={"name": "no spaces allowed"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "name"
    assert httpx.get(start_proxy().url + "/admin/keys", headers=ADMIN).status_code == 403  # no PROXY_ADMIN_KEY
