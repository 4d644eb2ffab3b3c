"""Reply helpers shared by the routers: orjson bodies and the SSE relay response."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.api.event_stream import RelayEventSource
from app.api.redaction import redact
from app.api.state import EXCHANGE_KEY
from app.pipeline.core import Binary, BinaryStream, Reply

KEEPALIVE_SECONDS = 15


def json_response(payload: Mapping[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def sse_response(frames: AsyncIterable[bytes], headers: dict[str, str] | None = None) -> RelayEventSource:
    return RelayEventSource(frames, ping=KEEPALIVE_SECONDS, sep="\n", headers=headers)


def reply_response(reply: Reply, request: Request) -> Response:
    """A proxy reply as JSON or as an event stream, with the AI Gateway headers it carries."""
    headers = reply.headers or None
    state = request.app.state.proxy
    if isinstance(reply.body, Binary):
        return Response(reply.body.data, media_type=reply.body.content_type, headers=headers)
    if isinstance(reply.body, BinaryStream):
        return StreamingResponse(reply.body.chunks, media_type=reply.body.content_type, headers=headers)
    if isinstance(reply.body, dict):
        response = json_response(reply.body, headers=headers)
        if state.log_bodies:
            request.scope[EXCHANGE_KEY].bodies["reply"] = bytes(response.body).decode("utf-8", "replace")
        return response
    secrets = state.secrets
    reply.body.scrub = lambda message: redact(message, request, secrets)  # for an in-band error, if one comes
    return sse_response(reply.body, headers)
