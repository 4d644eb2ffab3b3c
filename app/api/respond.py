"""Reply helpers shared by the routers: orjson bodies and SSE streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from fastapi import Response
from sse_starlette import EventSourceResponse

KEEPALIVE_SECONDS = 15


def json_response(payload: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def sse_response(frames: AsyncIterator[bytes]) -> EventSourceResponse:
    """Frames arrive already encoded; keep-alive comments cover long silences (e.g. model queueing)."""
    return EventSourceResponse(frames, ping=KEEPALIVE_SECONDS, sep="\n")
