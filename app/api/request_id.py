"""`x-request-id` on every reply (success, error, stream): the client's own when it sent a sane one, else a new
one in OpenAI's form. The SDKs expose it as `request_id`; the access log and traces carry it."""

from __future__ import annotations

import random
import re

from starlette.requests import Request

HEADER = "x-request-id"
RAW_NAME = HEADER.encode()
SANE = re.compile(r"[A-Za-z0-9._:+=@/-]{1,128}")
SCOPE_KEY = "workers_ai_proxy.request_id"


def request_id(request: Request) -> str:
    """The request's id, decided once and kept in the ASGI scope."""
    known: str | None = request.scope.get(SCOPE_KEY)
    if known is None:
        known = request.scope[SCOPE_KEY] = chosen_id(request.headers.get(HEADER))
    return known


def chosen_id(sent: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if sent is not None and SANE.fullmatch(sent):
        return sent
    return f"req_{random.getrandbits(128):032x}"  # unique, not secret: the PRNG spares a system call (os.urandom)
