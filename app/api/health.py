"""GET /health: liveness for Docker HEALTHCHECK, compose and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import __version__
from app.api.respond import json_response
from app.api.services import services

router = APIRouter(tags=["health"])


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "version": __version__, "emulator": services(request).emulated})


router.add_api_route("/health", health, methods=["GET"], summary="Liveness")
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
