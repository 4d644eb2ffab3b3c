"""Codex CLI, the real one (`@openai/codex` from npm, pinned), against the console script on the emulator through
the Responses API: a model provider whose `base_url` is the proxy, `codex exec` on a small task that uses a tool
(the emulator calls the first offered tool, Codex's `exec_command`), to the end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.agents.npm import cli
from tests.console import RunningProxy, clean_env

pytestmark = pytest.mark.agents
CODEX = "@openai/codex@0.171.0"
MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
CONFIG = """\
model = "{model}"
model_provider = "workers-ai"

[model_providers.workers-ai]
name = "Workers AI (workers-ai-proxy)"
base_url = "{url}/v1"
env_key = "WORKERS_AI_PROXY_KEY"
wire_api = "responses"
"""


@pytest.fixture(scope="session")
def codex() -> Path:
    return cli(CODEX, "codex")


def test_codex_completes_a_task_with_a_tool(codex: Path, tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "codex-home"
    work.mkdir()
    home.mkdir()
    (work / "notes.txt").write_text("hello\n")
    with RunningProxy("--emulator", cwd=tmp_path, env=clean_env(PROXY_EMULATOR_TOKEN_DELAY_MS="0")) as proxy:
        (home / "config.toml").write_text(CONFIG.format(model=MODEL, url=proxy.url))
        agent_env = {**clean_env(), "HOME": str(tmp_path), "CODEX_HOME": str(home), "WORKERS_AI_PROXY_KEY": "sk-local"}
        done = subprocess.run(
            [str(codex), "exec", "--skip-git-repo-check", "List the files here"],
            cwd=work,
            env=agent_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = proxy.output()
    assert done.returncode == 0, done.stdout + done.stderr
    # the emulator's answer to a tool's output: Codex ran the call and sent its output back
    assert "to: the tool result" in done.stdout, done.stdout + done.stderr
    requests = [line for line in output.splitlines() if " responses " in line]
    assert len(requests) >= 2, output  # the model's tool call, then its answer to the tool's result
    assert all(" 200 " in line and " stream" in line for line in requests), output
