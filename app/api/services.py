"""What the routers need from the running app, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from app.auth import ClientAuth
from app.proxy import Proxy


@dataclass(frozen=True, slots=True)
class Services:
    proxy: Proxy
    auth: ClientAuth
    emulated: bool


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def authenticated(request: Request) -> tuple[Proxy, str]:
    """Authenticate the client; return the proxy and the Cloudflare token its request travels with."""
    found = services(request)
    return found.proxy, found.auth.upstream_token(request.headers.get("authorization"))
