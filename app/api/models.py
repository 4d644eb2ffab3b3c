"""GET /v1/models and GET /v1/models/{model}: the account's catalogue, plus the configured aliases."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.endpoint import Endpoint
from app.api.respond import json_response
from app.api.services import authenticated

SOURCE_HEADER = "x-model-catalogue"  # "account", or "bundled" when the account's list could not be read


async def list_models(request: Request) -> Response:
    proxy, _ = authenticated(request)
    models, source = await proxy.models()
    return json_response({"object": "list", "data": models}, headers={SOURCE_HEADER: source})


async def retrieve_model(request: Request) -> Response:
    proxy, _ = authenticated(request)
    model, source = await proxy.model(request.path_params["model"])
    return json_response(model, headers={SOURCE_HEADER: source})


ENDPOINTS = (
    Endpoint("GET", "/v1/models", list_models, summary="List models", tag="models", also_at=("/models",)),
    Endpoint(
        "GET",
        "/v1/models/{model:path}",
        retrieve_model,
        summary="Retrieve a model (ids keep their slashes: /v1/models/@cf/openai/gpt-oss-120b)",
        tag="models",
        also_at=("/models/{model:path}",),
    ),
)
