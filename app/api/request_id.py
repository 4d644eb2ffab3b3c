"""`x-request-id` on every reply (success, error, stream): the client's own when it sent a sane one, else a new
one in OpenAI's form. The SDKs expose it as `request_id`; logs and traces of later issues will carry it."""

from __future__ import annotations

import re
import secrets
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from app.api.endpoint import Handler

HEADER = "x-request-id"
SANE = re.compile(r"[A-Za-z0-9._:+=@/-]{1,128}")
SCOPE_KEY = "workers_ai_proxy.request_id"


def request_id(request: Request) -> str:
    """The request's id, decided once and kept in the ASGI scope."""
    known: str | None = request.scope.get(SCOPE_KEY)
    if known is None:
        sent = request.headers.get(HEADER)
        known = sent if sent is not None and SANE.fullmatch(sent) else "req_" + secrets.token_hex(16)
        request.scope[SCOPE_KEY] = known
    return known


def with_request_id(handler: Handler) -> Handler:
    """The handler's reply carries the id (errors get it where they are rendered, `app.api.errors`)."""

    @wraps(handler)
    async def handle(request: Request) -> Response:
        rid = request_id(request)
        response = await handler(request)
        response.headers[HEADER] = rid
        return response

    return handle
