"""ruff and mypy --strict stay clean (the tools come with the test extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_and_format() -> None:
    lint = run(str(BIN / "ruff"), "check", "app", "tests")
    assert lint.returncode == 0, lint.stdout
    fmt = run(str(BIN / "ruff"), "format", "--check", "app", "tests")
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_on_app() -> None:
    result = run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout
