"""The console script as a newcomer meets it: --help, refusals, config files, and the emulator."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest

from tests import openai_schema
from tests.console import RunningProxy, clean_env, run


def test_help_names_every_option_and_variable(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in (
        "--host",
        "--port",
        "--config",
        "--emulator",
        "--log-level",
        "--workers",
        "PROXY_WORKERS",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_API_BASE",
        "PROXY_API_KEYS",
        "PROXY_MODEL_ALIASES",
        "PROXY_DEFAULT_MAX_TOKENS",
        "PROXY_HOST",
        "PROXY_PORT",
        "PROXY_LOG_LEVEL",
    ):
        assert word in result.stdout


def test_refuses_to_start_without_an_account(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert result.returncode == 2
    assert "CLOUDFLARE_ACCOUNT_ID" in result.stderr and "--emulator" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "PROXY_PORT": "99999"}, "PROXY_PORT"),
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "PROXY_MODEL_ALIASES": "{not json"}, "PROXY_MODEL_ALIASES"),
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "PROXY_DEFAULT_MAX_TOKENS": "0"}, "PROXY_DEFAULT_MAX_TOKENS"),
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "CLOUDFLARE_API_BASE": "ftp://x"}, "CLOUDFLARE_API_BASE"),
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "PROXY_LOG_LEVEL": "loud"}, "PROXY_LOG_LEVEL"),
        ({"CLOUDFLARE_ACCOUNT_ID": "a", "PROXY_API_KEYS": "k1"}, "PROXY_API_KEYS"),
    ],
)
def test_invalid_settings_give_one_readable_line(tmp_path: Path, env: dict[str, str], named: str) -> None:
    result = run(cwd=tmp_path, env=clean_env(**env))
    assert result.returncode == 2
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_config_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[proxy]\nprot = 1\n")
    result = run("--config", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2 and "[proxy] prot" in result.stderr
    missing = run("--config", "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr


def test_emulator_serves_the_openai_sdk(tmp_path: Path) -> None:
    with (
        RunningProxy("--emulator", cwd=tmp_path) as proxy,
        openai_schema.sdk(proxy.url, api_key="unused") as sdk,
    ):
        messages = [{"role": "user", "content": "Tell me about the edge"}]
        reply = sdk.chat.completions.create(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", messages=messages)  # type: ignore[arg-type]
        text = reply.choices[0].message.content or ""
        assert "Emulated" in text and reply.usage is not None and reply.usage.completion_tokens > 0
        again = sdk.chat.completions.create(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", messages=messages)  # type: ignore[arg-type]
        assert again.choices[0].message.content == text  # deterministic
        chunks = list(
            sdk.chat.completions.create(
                model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
        assert chunks[-1].usage is not None
        short = sdk.chat.completions.create(
            model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            messages=messages,
            max_tokens=3,  # type: ignore[arg-type]
        )
        assert short.choices[0].finish_reason == "length"
        vectors = sdk.embeddings.create(model="@cf/baai/bge-small-en-v1.5", input=["a", "b"])
        assert [len(d.embedding) for d in vectors.data] == [384, 384]
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="@cf/acme/not-a-model", messages=messages)  # type: ignore[arg-type]
        health = httpx.get(proxy.url + "/health").json()
        assert health["status"] == "ok" and health["emulator"] is True
    assert "emulated" in proxy.output().lower()


def test_config_file_and_env_file_are_read(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "proxy.toml").write_text(
        "[proxy]\n"
        "emulator = true\n"
        "emulator_token_delay_ms = 0\n"
        "[proxy.model_aliases]\n"
        '"my-chat" = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"\n'
        '[models."my-chat"]\n'
        "max_tokens = 2\n"
    )
    (tmp_path / ".env").write_text("PROXY_API_KEYS=from-dotenv\nUNRELATED=1\n")
    with RunningProxy(cwd=tmp_path) as proxy:
        url = proxy.url + "/v1/chat/completions"
        body = {"model": "my-chat", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url, json=body).status_code == 401
        reply = httpx.post(url, json=body, headers={"Authorization": "Bearer from-dotenv"}).json()
        assert reply["model"] == "my-chat"
        assert reply["usage"]["completion_tokens"] == 2 and reply["choices"][0]["finish_reason"] == "length"


def test_several_workers_serve_the_same_port(tmp_path: Path) -> None:
    with RunningProxy(
        "--emulator", "--workers", "2", cwd=tmp_path, env=clean_env(PROXY_EMULATOR_TOKEN_DELAY_MS="0")
    ) as proxy:
        body = {"model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(6):
            assert httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=10).status_code == 200
    output = proxy.output()
    assert output.count("Started server process") == 2


def test_emulator_serves_the_openai_route_and_the_catalogue(tmp_path: Path) -> None:
    env = clean_env(PROXY_UPSTREAM="openai", PROXY_EMULATOR_TOKEN_DELAY_MS="0")
    with (
        RunningProxy("--emulator", cwd=tmp_path, env=env) as proxy,
        openai_schema.sdk(proxy.url, api_key="unused") as sdk,
    ):
        messages = [{"role": "user", "content": "Hi"}]
        reply = sdk.chat.completions.create(model="@cf/meta/llama-3.3-70b-instruct-fp8-fast", messages=messages)  # type: ignore[arg-type]
        assert "Emulated" in (reply.choices[0].message.content or "")
        chunks = list(
            sdk.chat.completions.create(
                model="@cf/meta/llama-3.3-70b-instruct-fp8-fast",
                messages=messages,  # type: ignore[arg-type]
                stream=True,
            )
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply.choices[0].message.content
        )
        assert len(sdk.embeddings.create(model="@cf/baai/bge-base-en-v1.5", input="x").data[0].embedding) == 768
        raw = sdk.models.with_raw_response.list()
        assert raw.headers["x-model-catalogue"] == "account"
        assert "@cf/meta/llama-3.3-70b-instruct-fp8-fast" in {m.id for m in raw.parse().data}


def test_metrics_of_several_workers_are_added_up(tmp_path: Path) -> None:
    """With --workers 2 every request is counted once, whichever worker served it and whichever answers the
    scrape (prometheus multiprocess mode, snapshots written by each worker)."""
    with RunningProxy("--emulator", "--workers", "2", cwd=tmp_path) as proxy:
        for _ in range(20):
            assert httpx.get(proxy.url + "/v1/models").status_code == 200  # a new connection each time
        counted = 0.0
        for _ in range(300):  # workers write their numbers every second: wait for them (an event, not a timing)
            text = httpx.get(proxy.url + "/metrics").text
            counted = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith('proxy_requests_total{endpoint="models"')
            )
            if counted >= 20:
                break
            time.sleep(0.1)
        assert counted == 20
