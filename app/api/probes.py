"""GET /health (liveness), GET /ready (readiness) and GET /metrics (Prometheus): for Docker, compose, load
balancers and scrapers. Not observed: probes would drown the access log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.api.operation import Operation
from app.api.respond import json_response
from app.api.state import app_state
from app.errors import NotFound
from app.observe.metrics import CONTENT_TYPE


async def index(request: Request) -> Response:
    """What a client probing the base URL finds (Claude Code sends `HEAD /` before anything else)."""
    return json_response(
        {"name": "workers-ai-proxy", "version": __version__, "openai": "/v1", "anthropic": "/v1/messages"}
    )


async def health(request: Request) -> Response:
    found = app_state(request)
    if found.drain.draining:  # load balancers stop sending while streams finish
        return json_response({"status": "draining", "version": __version__}, status=503)
    return json_response({"status": "ok", "version": __version__, "emulator": found.emulated})


async def ready(request: Request) -> Response:
    found = app_state(request)
    is_ready, checks = await found.readiness.check(found.drain.draining)
    status = "ready" if is_ready else "not_ready"
    return json_response({"status": status, "version": __version__, **checks}, status=200 if is_ready else 503)


async def metrics(request: Request) -> Response:
    found = app_state(request).metrics
    if found is None:
        raise NotFound("Metrics are switched off on this proxy (PROXY_METRICS=false).", code=None)
    return Response(found.exposition(), media_type=CONTENT_TYPE)


OPERATIONS = (
    Operation("GET", "/", index, summary="What this server is", tag="probes", resource="index", observed=False),
    Operation("GET", "/health", health, summary="Liveness", tag="probes", resource="health", observed=False),
    Operation("GET", "/ready", ready, summary="Readiness", tag="probes", resource="ready", observed=False),
    Operation(
        "GET", "/metrics", metrics, summary="Prometheus metrics", tag="probes", resource="metrics", observed=False
    ),
)
