"""The uvicorn options the proxy runs with: the console script's, and the tests' in-process servers'."""

from __future__ import annotations

import math
from typing import Any

from app.settings import Settings

PROTOCOL = "app.server.protocol:GuardedHttpToolsProtocol"  # by import path: worker processes load it too
KEEP_ALIVE_SECONDS = 60


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "http": PROTOCOL,
        "loop": "auto",
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # streams get PROXY_DRAIN_TIMEOUT to finish, then an error frame; this is uvicorn's hard stop after that
        "timeout_graceful_shutdown": math.ceil(settings.proxy_drain_timeout) + 5,
        "backlog": 4096,
    }
