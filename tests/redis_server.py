"""A real `redis-server` for the tests, on a free loopback port, nothing saved to disk. Where it is missing it is
installed once (`apt-get install -y redis-server`, as root or with passwordless sudo); where that cannot be done the
tests that need it are skipped with the reason."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.console import free_port


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or _install()
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    while True:  # until it answers PING; it fails the test only by exiting
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)


def _install() -> str:
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("redis-server is not installed and there is no apt-get to install it with")
    command = [apt] if os.geteuid() == 0 else ["sudo", "-n", apt]
    for attempt in (["install", "-y", "redis-server"], ["update"], ["install", "-y", "redis-server"]):
        try:
            subprocess.run([*command, *attempt], capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired):
            break
        found = shutil.which("redis-server")
        if found is not None:
            return found
    pytest.skip("redis-server is not installed and apt-get could not install it (no root, or no package index)")
