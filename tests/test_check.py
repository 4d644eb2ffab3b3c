"""`workers-ai-proxy check` against the fake upstream (each failure it must name) and the emulator; the
start-up banner and the port-in-use line."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from app.check import Finding, check, report
from app.cli import banner, port_problem
from app.settings import Settings
from tests.console import run as run_console
from tests.fake_upstream import ACCOUNT, GATEWAY, FakeUpstream, Reply, envelope_error


def settings(fake: FakeUpstream, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "cloudflare_account_id": ACCOUNT,
        "cloudflare_api_token": "cf-secret-token-abc123",
        "cloudflare_api_base": fake.base_url,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def run(config: Settings) -> tuple[int, str, list[Finding]]:
    findings = asyncio.run(check(config))
    lines: list[str] = []
    return report(findings, lines.append), "\n".join(lines), findings


def test_a_working_configuration_passes(fake: FakeUpstream) -> None:
    code, text, _ = run(settings(fake, cloudflare_gateway_id=GATEWAY))
    assert code == 0, text
    assert "token: valid and active" in text and f"gateway {GATEWAY} exists" in text


def test_a_wrong_token_fails(fake: FakeUpstream) -> None:
    code, text, _ = run(settings(fake, cloudflare_api_token="not-the-token"))
    assert code == 1 and "[FAIL] token: rejected by Cloudflare" in text and "not-the-token" not in text


def test_a_disabled_token_fails(fake: FakeUpstream) -> None:
    fake.script(Reply(json={"result": {"id": "t", "status": "disabled"}, "success": True, "errors": []}))
    code, text, _ = run(settings(fake))
    assert code == 1 and "the token is disabled" in text


def test_an_account_token_is_tried_on_the_account_path(fake: FakeUpstream) -> None:
    fake.script(Reply(401, envelope_error(1000, "Invalid API Token")))  # not a user token
    code, text, _ = run(settings(fake))
    assert code == 0, text
    assert [r.path for r in fake.requests][:2] == [
        "/client/v4/user/tokens/verify",
        f"/client/v4/accounts/{ACCOUNT}/tokens/verify",
    ]


def test_a_token_without_workers_ai_permission_fails(fake: FakeUpstream) -> None:
    fake.catalogue_reply = Reply(403, envelope_error(10000, "Authentication error"))
    code, text, _ = run(settings(fake))
    assert code == 1 and "[FAIL] Workers AI permission" in text


def test_an_unknown_account_fails(fake: FakeUpstream) -> None:
    code, text, _ = run(settings(fake, cloudflare_account_id="no-such-account"))
    assert code == 1 and "[FAIL] account: unknown account no-such-account" in text


def test_an_unknown_gateway_fails(fake: FakeUpstream) -> None:
    code, text, _ = run(settings(fake, cloudflare_gateway_id="no-such-gateway"))
    assert code == 1 and "unknown gateway no-such-gateway" in text


def test_an_unreachable_api_fails() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        cloudflare_account_id=ACCOUNT,
        cloudflare_api_token="t",
        cloudflare_api_base=f"http://127.0.0.1:{port}/client/v4",
    )
    code, text, _ = run(config)
    assert code == 1 and "[FAIL] Cloudflare API: unreachable" in text


def test_pass_through_mode_has_no_token_to_check(fake: FakeUpstream) -> None:
    code, text, _ = run(settings(fake, cloudflare_api_token=None))
    assert code == 0 and "pass-through" in text


def test_the_console_script_checks_the_emulator(tmp_path: Path) -> None:
    done = run_console("check", "--emulator", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "everything looks right" in done.stdout


def test_the_banner_names_a_reachable_url_and_a_curl() -> None:
    text = banner(Settings(_env_file=None, proxy_emulator=True, proxy_host="0.0.0.0", proxy_port=9000))  # type: ignore[call-arg]
    assert "http://127.0.0.1:9000/v1" in text and "0.0.0.0" in text and "curl http://127.0.0.1:9000/v1" in text
    assert "EMULATOR" in text and "auth: open" in text


def test_a_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = port_problem("127.0.0.1", port)
    assert problem is not None and "already in use" in problem and "\n" not in problem
