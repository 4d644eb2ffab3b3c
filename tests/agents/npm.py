"""The agent CLIs and Node SDKs, installed from npm (pinned) once into a cache that outlives the run
(`AGENT_CLI_CACHE`, default `~/.cache/workers-ai-proxy/agents`); npm's own cache makes a fresh install fast. A test
that needs what npm cannot install is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def cli(package: str, command: str) -> Path:
    """The path of `command`, from `package` (`name@version`), installed in its own prefix."""
    prefix = _cache() if command == "claude" else _cache() / command  # Claude Code's first home, kept warm
    binary = prefix / "node_modules" / ".bin" / command
    install(prefix, [package], binary)
    if not binary.exists():
        pytest.skip(f"npm installed {package} but not its `{command}` command")
    return binary


def packages(name: str, wanted: list[str]) -> Path:
    """A prefix (its `node_modules`) holding `wanted` (`name@version` each), for Node scripts to import."""
    prefix = _cache() / name
    marker = prefix / ("installed " + " ".join(wanted).replace("/", "+"))
    install(prefix, wanted, marker)
    marker.touch()
    return prefix


def install(prefix: Path, wanted: list[str], done_when: Path) -> None:
    """npm install `wanted` into `prefix` unless `done_when` exists; skips the test when npm cannot."""
    # `done_when`: the CLI's binary, or for packages a marker that `packages` writes once they are in
    if done_when.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the agent CLIs and Node SDKs cannot be installed")
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", *wanted],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm did not install {' '.join(wanted)} within 10 minutes (registry unreachable?)")
    if done.returncode != 0:
        pytest.skip(f"npm could not install {' '.join(wanted)} (registry unreachable?): {done.stderr[-300:]}")


def _cache() -> Path:
    return Path(os.environ.get("AGENT_CLI_CACHE", Path.home() / ".cache" / "workers-ai-proxy" / "agents"))
