"""Claude Code, the real CLI (`@anthropic-ai/claude-code` from npm, pinned), against the console script on the
emulator: a small task that uses a tool, to the end. Installed by `tests/agents/npm.py`; skipped, with the reason,
when npm or its registry cannot be reached. Run by `.ci/run` as a second step:
`pytest -m agents`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.agents.npm import cli
from tests.console import RunningProxy, clean_env

pytestmark = pytest.mark.agents
CLAUDE_CODE = "@anthropic-ai/claude-code@2.1.332"
MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.fixture(scope="session")
def claude() -> Path:
    return cli(CLAUDE_CODE, "claude")


def test_claude_code_completes_a_task_with_a_tool(claude: Path, tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    with RunningProxy("--emulator", cwd=tmp_path, env=clean_env(PROXY_EMULATOR_TOKEN_DELAY_MS="0")) as proxy:
        agent_env = {
            **clean_env(),
            "HOME": str(home),
            "ANTHROPIC_BASE_URL": proxy.url,
            "ANTHROPIC_API_KEY": "sk-local",
            "ANTHROPIC_MODEL": MODEL,
            "ANTHROPIC_SMALL_FAST_MODEL": MODEL,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
        }
        done = subprocess.run(
            [str(claude), "-p", "List the files here", "--max-turns", "4"],
            cwd=work,
            env=agent_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = proxy.output()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip(), done.stderr
    requests = [line for line in output.splitlines() if " messages " in line]
    assert len(requests) >= 2, output  # the model's tool call, then its answer to the tool's result
    assert all(" 200 " in line for line in requests), output
