"""What the routers need from the running app, built once in the lifespan, and the caller's identity."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.requests import Request

from app.api.redaction import Secrets
from app.drain import Drain
from app.errors import Unavailable
from app.exchange import Exchange
from app.observe.metrics import Metrics
from app.pipeline.core import Pipeline
from app.policies import cache, gateway_headers
from app.policies.identity import Credentials, IdentityGuard
from app.serving import Serving
from app.serving.admin_keys import AdminKeys
from app.serving.readiness import Readiness
from app.serving.usage import UsageReport

EXCHANGE_KEY = "workers_ai_proxy.exchange"  # where the observed wrapper keeps the request's Exchange
IDENTITY_KEY = "workers_ai_proxy.identity"  # the caller's identity, when it was known before the route ran


@dataclass(frozen=True, slots=True)
class AppState:
    serving: Serving
    pipeline: Pipeline
    guard: IdentityGuard
    emulated: bool
    gateway_defaults: dict[str, str] = field(default_factory=dict)  # PROXY_GATEWAY_HEADERS
    uses_gateway: bool = False
    drain: Drain = field(default_factory=lambda: Drain(0))
    max_body_bytes: int = 50 * 1024 * 1024
    max_audio_bytes: int = 25 * 1024 * 1024  # an uploaded audio file (PROXY_AUDIO_MAX_BYTES)
    secrets: Secrets = field(default_factory=lambda: Secrets(()))
    readiness: Readiness = field(default_factory=lambda: Readiness(None, 30, time.monotonic))
    metrics: Metrics | None = None
    log_bodies: bool = False  # PROXY_LOG_BODIES: the exchange keeps the request and reply text
    admin_key: str | None = field(default=None, repr=False)  # PROXY_ADMIN_KEY
    usage: UsageReport | None = None
    admin_keys: AdminKeys | None = None


def app_state(request: Request) -> AppState:
    found: AppState = request.app.state.proxy
    return found


async def identified(request: Request) -> tuple[Serving, Exchange]:
    """Identify the caller (401 otherwise) on the request's Exchange; the serving modules, and the exchange."""
    state = app_state(request)
    if state.drain.draining:
        raise Unavailable("The proxy is shutting down.", code="shutting_down", headers={"Retry-After": "5"})
    exchange: Exchange = request.scope[EXCHANGE_KEY]
    headers = request.headers
    known = request.scope.get(IDENTITY_KEY)  # identified on the way in (api.repeat_hits)
    exchange.identity = known or await state.guard.identify(
        Credentials(headers.get("authorization"), headers.get("x-api-key"))
    )
    if state.uses_gateway:  # the headers would not be forwarded on a direct route anyway
        exchange.gateway_headers = gateway_headers.request_headers(state.gateway_defaults, headers.items())
    if headers.get("cache-control") is not None or headers.get(cache.TTL_HEADER) is not None:
        cache.directives(exchange, headers.get("cache-control"), headers.get(cache.TTL_HEADER))
    exchange.client_gone = request.is_disconnected
    return state.serving, exchange
