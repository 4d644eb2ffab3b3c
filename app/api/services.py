"""What the routers need from the running app, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from app import gateway
from app.api.redaction import Secrets
from app.auth import ClientAuth
from app.drain import Drain
from app.errors import Unavailable
from app.proxy import Caller, Proxy


@dataclass(frozen=True, slots=True)
class Services:
    proxy: Proxy
    auth: ClientAuth
    emulated: bool
    gateway_defaults: dict[str, str] = field(default_factory=dict)  # PROXY_GATEWAY_HEADERS
    uses_gateway: bool = False
    drain: Drain = field(default_factory=lambda: Drain(0))
    max_body_bytes: int = 50 * 1024 * 1024
    secrets: Secrets = field(default_factory=lambda: Secrets(()))


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def authenticated(request: Request) -> tuple[Proxy, Caller]:
    """Authenticate the client; return the proxy and who its request travels upstream as."""
    found = services(request)
    if found.drain.draining:
        raise Unavailable("The proxy is shutting down.", code="shutting_down", headers={"Retry-After": "5"})
    token = found.auth.upstream_token(request.headers.get("authorization"))
    tenant = found.auth.tenant(token)
    # the headers would not be forwarded on a direct route anyway
    headers = gateway.request_headers(found.gateway_defaults, request.headers.items()) if found.uses_gateway else {}
    return found.proxy, Caller(token, headers, tenant, request.is_disconnected)
