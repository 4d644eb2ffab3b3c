"""POST /v1/completions (legacy text completions)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import identified
from app.protocol.completions import CompletionRequest


async def create_completion(request: Request) -> Response:
    serving, exchange = await identified(request)
    completion = await parse_body(request, CompletionRequest)
    return reply_response(await serving.completions.create(completion, exchange), request)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/completions",
        create_completion,
        summary="Create a text completion (legacy)",
        tag="completions",
        resource="completions",
        body=CompletionRequest,
        also_at=("/completions",),
        repeats=True,
    ),
)
