"""One HTTP operation: where it listens, the handler, the resource it serves, and what the OpenAPI document
says of it.

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
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    resource: str  # the name observers, logs and metrics use: chat, completions, embeddings, models, ...
    body: type[BaseModel] | None = None
    also_at: tuple[str, ...] = ()  # undocumented aliases, e.g. without the /v1 prefix
    observed: bool = True  # False for probes and the metrics scrape: they would drown the access log
    errors: str = "openai"  # the protocol whose error shape failures take: openai or anthropic
    repeats: bool = False  # a whole reply from the reply cache may be answered again early (api.repeat_hits)
