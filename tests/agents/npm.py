"""The agent CLIs, installed from npm (pinned) once into a cache that outlives the run (`AGENT_CLI_CACHE`, default
`~/.cache/workers-ai-proxy/agents`); npm's own cache makes a fresh install fast. A test that needs a CLI npm cannot
install is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def cli(package: str, command: str) -> Path:
    """The path of `command`, from `package` (`name@version`), installed in its own prefix."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the agent CLIs cannot be installed")
    cache = Path(os.environ.get("AGENT_CLI_CACHE", Path.home() / ".cache" / "workers-ai-proxy" / "agents"))
    prefix = cache if command == "claude" else cache / command  # Claude Code's first home, kept for warm caches
    binary = prefix / "node_modules" / ".bin" / command
    if binary.exists():
        return binary
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", package],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm did not install {package} within 10 minutes (registry unreachable?)")
    if done.returncode != 0 or not binary.exists():
        pytest.skip(f"npm could not install {package} (registry unreachable?): {done.stderr[-300:]}")
    return binary
