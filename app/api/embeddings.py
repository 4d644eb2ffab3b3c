"""POST /v1/embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.body import openapi_body, parse_body
from app.api.respond import json_response
from app.api.services import services, upstream_token
from app.protocol.embeddings import EmbeddingRequest

router = APIRouter(tags=["embeddings"])


async def create_embedding(request: Request) -> Response:
    token = upstream_token(request)
    embedding = await parse_body(request, EmbeddingRequest)
    return json_response(await services(request).proxy.embeddings(embedding, token))


router.add_api_route(
    "/v1/embeddings",
    create_embedding,
    methods=["POST"],
    openapi_extra=openapi_body(EmbeddingRequest),
    summary="Create embeddings",
)
router.add_api_route("/embeddings", create_embedding, methods=["POST"], include_in_schema=False)
