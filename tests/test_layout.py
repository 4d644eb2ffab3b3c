"""The folder layout shows the data flow; these rules keep the imports going one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# package -> app packages/modules it must not import
FORBIDDEN = {
    "protocol": ("app.api", "app.proxy", "app.dialects", "app.upstream", "app.emulator", "app.settings"),
    "dialects": ("app.api", "app.proxy", "app.relay", "app.upstream", "app.emulator", "app.settings"),
    "chat": ("app.api", "app.proxy", "app.relay", "app.dialects", "app.emulator", "app.settings"),
    "upstream": ("app.api", "app.proxy", "app.dialects", "app.protocol", "app.emulator"),
    "api": ("app.dialects", "app.upstream", "app.emulator"),
    "emulator": ("app.api", "app.proxy", "app.dialects", "app.upstream", "app.protocol"),
    # the HTTP server knows connections and bytes, nothing of what the requests mean
    "server": ("app.api", "app.proxy", "app.dialects", "app.upstream", "app.protocol", "app.chat", "app.emulator"),
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    for path in (APP / package).rglob("*.py"):
        bad = sorted(m for m in imports_of(path) if m.startswith(FORBIDDEN[package]))
        assert not bad, f"{path.relative_to(APP)} imports {bad}"


def test_modules_stay_small() -> None:
    for path in APP.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path.relative_to(APP)} has {lines} lines"
