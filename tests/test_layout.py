"""The folder layout shows the data flow; these rules keep the imports going one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# package -> what it must not import. The flow: api -> serving -> pipeline -> {policies, dialects, upstream};
# dialects -> protocol; observers know nothing of HTTP; the HTTP server knows connections and bytes only.
HTTP = ("starlette", "fastapi", "uvicorn", "sse_starlette", "httpx", "aiohttp")
FORBIDDEN = {
    "protocol": (
        "app.api",
        "app.serving",
        "app.pipeline",
        "app.dialects",
        "app.upstream",
        "app.emulator",
        "app.settings",
        "app.policies",
        "app.observe",
    ),
    "dialects": (
        "app.api",
        "app.serving",
        "app.pipeline",
        "app.emulator",
        "app.settings",
        "app.policies",
        "app.observe",
        "app.upstream.client",
        "app.upstream.targets",
        "app.upstream.transport",
        "app.upstream.fetch",
    ),
    "chat": (
        "app.api",
        "app.serving",
        "app.pipeline",
        "app.dialects",
        "app.upstream",
        "app.emulator",
        "app.settings",
        "app.observe",
        *HTTP,
    ),
    "upstream": (
        "app.api",
        "app.serving",
        "app.pipeline",
        "app.dialects",
        "app.protocol",
        "app.chat",
        "app.emulator",
        "app.routing",
        "app.observe",
    ),
    "api": ("app.dialects", "app.upstream", "app.emulator", "app.chat", "app.routing"),
    "serving": ("app.api", "app.emulator", "app.server", *HTTP),
    "pipeline": ("app.api", "app.serving", "app.emulator", "app.server", "starlette", "fastapi"),
    "observe": ("app.api", "app.serving", "app.pipeline", "app.server", *HTTP),
    "policies": ("app.api", "app.serving", "app.pipeline", "app.upstream", *HTTP),
    "routing": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", *HTTP),
    "bridges": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", "app.emulator", *HTTP),
    "stores": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", "app.emulator", *HTTP),
    "frames": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", "app.emulator", *HTTP),
    "models": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", "app.routing", *HTTP),
    "emulator": ("app.api", "app.serving", "app.pipeline", "app.dialects", "app.upstream", "app.protocol"),
    "server": (
        "app.api",
        "app.serving",
        "app.pipeline",
        "app.dialects",
        "app.upstream",
        "app.protocol",
        "app.chat",
        "app.emulator",
    ),
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
