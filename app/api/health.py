"""GET /health: liveness for Docker HEALTHCHECK, compose and load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.api.endpoint import Endpoint
from app.api.respond import json_response
from app.api.services import services


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "version": __version__, "emulator": services(request).emulated})


ENDPOINTS = (Endpoint("GET", "/health", health, summary="Liveness", tag="health"),)
