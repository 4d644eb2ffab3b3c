"""POST /v1/embeddings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.endpoint import Endpoint
from app.api.respond import reply_response
from app.api.services import authenticated
from app.protocol.embeddings import EmbeddingRequest


async def create_embedding(request: Request) -> Response:
    proxy, caller = authenticated(request)
    embedding = await parse_body(request, EmbeddingRequest)
    return reply_response(await proxy.embeddings(embedding, caller), request)


ENDPOINTS = (
    Endpoint(
        "POST",
        "/v1/embeddings",
        create_embedding,
        summary="Create embeddings",
        tag="embeddings",
        body=EmbeddingRequest,
        also_at=("/embeddings",),
    ),
)
