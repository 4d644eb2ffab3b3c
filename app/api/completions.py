"""POST /v1/completions (legacy text completions)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.endpoint import Endpoint
from app.api.respond import reply_response
from app.api.services import authenticated
from app.protocol.completions import CompletionRequest


async def create_completion(request: Request) -> Response:
    proxy, caller = authenticated(request)
    completion = await parse_body(request, CompletionRequest)
    return reply_response(await proxy.completions(completion, caller), request)


ENDPOINTS = (
    Endpoint(
        "POST",
        "/v1/completions",
        create_completion,
        summary="Create a text completion (legacy)",
        tag="completions",
        body=CompletionRequest,
        also_at=("/completions",),
    ),
)
