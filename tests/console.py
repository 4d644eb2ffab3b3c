"""Run the installed `workers-ai-proxy` console script as a user would, in a clean environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SCRIPT = str(Path(sys.executable).with_name("workers-ai-proxy"))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "PROXY_"))}
    env.update(extra)
    return env


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningProxy:
    """The console script started in the background; stopped (SIGTERM) on exit."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None, open_files: int | None = None) -> None:
        """`open_files` caps the process's file descriptors (soft and hard limit), as a small box would."""
        self.port = free_port()
        command = [SCRIPT, "--port", str(self.port), *args]
        if open_files is not None:
            limit = (
                f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({open_files}, {open_files}))"
            )
            command = [sys.executable, "-c", limit + "; os.execv(sys.argv[1], sys.argv[1:])", *command]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env or clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._output = ""

    def __enter__(self) -> RunningProxy:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited: {self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("proxy did not become healthy")

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None and not self.process.stdout.closed:
            self._output = self.process.stdout.read()
            self.process.stdout.close()

    def output(self) -> str:
        """Everything the proxy printed; stops it first."""
        self.__exit__()
        return self._output
