"""GET /health: liveness for Docker HEALTHCHECK, compose and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import __version__
from app.api.respond import json_response
from app.api.services import services

router = APIRouter(tags=["health"])


@router.api_route("/health", methods=["GET", "HEAD"], summary="Liveness")
async def health(request: Request) -> Response:
    return json_response({"status": "ok", "version": __version__, "emulator": services(request).emulated})
