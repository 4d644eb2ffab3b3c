"""POST /v1/rerank (also /rerank and Cohere's /v2/rerank) and POST /v1/moderations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import identified
from app.protocol.moderations import ModerationRequest
from app.protocol.rerank import RerankRequest


async def rerank(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, RerankRequest)
    return reply_response(await serving.classify.rerank(body, exchange), request)


async def moderate(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, ModerationRequest)
    return reply_response(await serving.classify.moderate(body, exchange), request)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/rerank",
        rerank,
        summary="Rerank documents against a query",
        tag="rerank",
        resource="rerank",
        body=RerankRequest,
        also_at=("/rerank", "/v2/rerank"),
    ),
    Operation(
        "POST",
        "/v1/moderations",
        moderate,
        summary="Classify text as safe or not (Llama Guard)",
        tag="moderations",
        resource="moderations",
        body=ModerationRequest,
        also_at=("/moderations",),
    ),
)
