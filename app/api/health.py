"""GET /health: liveness for Docker HEALTHCHECK, compose and load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.api.operation import Operation
from app.api.respond import json_response
from app.api.state import app_state


async def health(request: Request) -> Response:
    found = app_state(request)
    if found.drain.draining:  # not ready: load balancers stop sending while streams finish
        return json_response({"status": "draining", "version": __version__}, status=503)
    return json_response({"status": "ok", "version": __version__, "emulator": found.emulated})


OPERATIONS = (Operation("GET", "/health", health, summary="Liveness", tag="health", resource="health", observed=False),)
