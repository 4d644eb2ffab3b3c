"""POST /v1/embeddings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import identified
from app.protocol.embeddings import EmbeddingRequest


async def create_embedding(request: Request) -> Response:
    serving, exchange = await identified(request)
    embedding = await parse_body(request, EmbeddingRequest)
    return reply_response(await serving.embeddings.create(embedding, exchange), request)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/embeddings",
        create_embedding,
        summary="Create embeddings",
        tag="embeddings",
        resource="embeddings",
        body=EmbeddingRequest,
        also_at=("/embeddings",),
        repeats=True,
    ),
)
