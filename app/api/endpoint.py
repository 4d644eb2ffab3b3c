"""One HTTP endpoint: where it listens, the handler, and what the OpenAPI document says of it.

Handlers are plain Starlette endpoints (`async (Request) -> Response`) mounted on the FastAPI app: FastAPI's
dependency-injecting route wrapper costs ~50 us per request measured here, more than everything the proxy
itself does to a request; bodies are parsed and validated in `api.body` instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    also_at: tuple[str, ...] = ()  # undocumented aliases, e.g. without the /v1 prefix
