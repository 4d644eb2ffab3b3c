"""`workers-ai-proxy check`: is this configuration going to work? Validated settings, then Cloudflare asked
directly (wire spec 9.15): the token verified (as a user token, then as an account token), the account's model
list read (which needs the Workers AI permission), and the gateway fetched when one is configured. A readable
report; a non-zero exit when something is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.emulator import EMULATOR_ACCOUNT, EMULATOR_TOKEN
from app.settings import Settings

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    detail: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"  [{mark}] {self.what}" + (f": {self.detail}" if self.detail else "")


async def check(settings: Settings, api_base: str | None = None) -> list[Finding]:
    """`api_base` overrides the settings' (the emulator's, with --emulator)."""
    findings = [Finding(True, "configuration", _summary(settings))]
    token = settings.cloudflare_api_token.get_secret_value() if settings.cloudflare_api_token else None
    account = settings.cloudflare_account_id
    if settings.proxy_emulator:
        token, account = token or EMULATOR_TOKEN, EMULATOR_ACCOUNT
    if token is None:
        findings.append(Finding(True, "token", "pass-through mode: each client sends its own Cloudflare token"))
        return findings
    assert account is not None  # Settings refuses to exist without it
    base = (api_base or settings.cloudflare_api_base).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=TIMEOUT, headers=headers) as client:
        try:
            findings.append(await _token(client, base, account))
            findings.append(await _workers_ai(client, base, account))
            if settings.cloudflare_gateway_id:
                findings.append(await _gateway(client, base, account, settings.cloudflare_gateway_id))
        except httpx.HTTPError as error:
            findings.append(Finding(False, "Cloudflare API", f"unreachable at {base} ({type(error).__name__})"))
    return findings


async def _token(client: httpx.AsyncClient, base: str, account: str) -> Finding:
    for url in (f"{base}/user/tokens/verify", f"{base}/accounts/{account}/tokens/verify"):
        reply = await client.get(url)
        payload = _json(reply)
        if reply.status_code == 200:
            status = (payload.get("result") or {}).get("status", "active")
            if status != "active":
                return Finding(False, "token", f"the token is {status}")
            return Finding(True, "token", "valid and active")
    return Finding(False, "token", f"rejected by Cloudflare ({_message(payload, reply.status_code)})")


async def _workers_ai(client: httpx.AsyncClient, base: str, account: str) -> Finding:
    reply = await client.get(f"{base}/accounts/{account}/ai/models/search", params={"per_page": 1})
    payload = _json(reply)
    if reply.status_code == 200 and payload.get("success", True) is not False:
        return Finding(True, "account and Workers AI permission", f"account {account} lists its models")
    message = _message(payload, reply.status_code)
    if reply.status_code == 403:
        return Finding(False, "Workers AI permission", f"the token may not use Workers AI on this account ({message})")
    if reply.status_code in (400, 404) or _code(payload) == 7003:
        return Finding(False, "account", f"unknown account {account} ({message})")
    if reply.status_code == 401:
        return Finding(False, "token", f"rejected for account {account} ({message})")
    return Finding(False, "account", f"the model list failed with HTTP {reply.status_code} ({message})")


async def _gateway(client: httpx.AsyncClient, base: str, account: str, gateway: str) -> Finding:
    reply = await client.get(f"{base}/accounts/{account}/ai-gateway/gateways/{gateway}")
    if reply.status_code == 200:
        return Finding(True, "AI Gateway", f"gateway {gateway} exists")
    message = _message(_json(reply), reply.status_code)
    if reply.status_code in (400, 404):
        return Finding(False, "AI Gateway", f"unknown gateway {gateway} ({message})")
    return Finding(False, "AI Gateway", f"gateway {gateway} could not be read: HTTP {reply.status_code} ({message})")


def _summary(settings: Settings) -> str:
    mode = "emulator" if settings.proxy_emulator else f"account {settings.cloudflare_account_id}"
    route = f"upstream {settings.proxy_upstream}"
    if settings.cloudflare_gateway_id:
        route += f" through AI Gateway {settings.cloudflare_gateway_id}"
    return f"valid ({mode}, {route}, {auth_mode(settings)})"


def auth_mode(settings: Settings) -> str:
    if settings.proxy_api_keys:
        return f"{len(settings.proxy_api_keys)} client key(s)"
    if settings.cloudflare_api_token is None and not settings.proxy_emulator:
        return "pass-through (clients send their Cloudflare token)"
    return "open (no client keys)"


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        payload = orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _errors(payload: dict[str, Any]) -> list[dict[str, Any]]:
    errors = payload.get("errors")
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _code(payload: dict[str, Any]) -> int | None:
    errors = _errors(payload)
    code = errors[0].get("code") if errors else None
    return code if isinstance(code, int) else None


def _message(payload: dict[str, Any], status: int) -> str:
    errors = _errors(payload)
    if errors:
        return "; ".join(f"{e.get('code')} {e.get('message')}" for e in errors)
    return f"HTTP {status}"


def report(findings: list[Finding], write: Callable[[str], Any] = print) -> int:
    write("workers-ai-proxy check:")
    for finding in findings:
        write(finding.line())
    failed = [f for f in findings if not f.ok]
    write("everything looks right." if not failed else f"{len(failed)} problem(s) found.")
    return 1 if failed else 0
