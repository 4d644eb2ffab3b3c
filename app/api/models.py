"""GET /v1/models and GET /v1/models/{model}: the account's catalogue, plus the configured aliases."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.operation import Operation
from app.api.respond import json_response
from app.api.state import identified

SOURCE_HEADER = "x-model-catalogue"  # "account", or "bundled" when the account's list could not be read


async def list_models(request: Request) -> Response:
    serving, exchange = await identified(request)
    models, source = await serving.models.list_all(exchange)
    return json_response({"object": "list", "data": models}, headers={SOURCE_HEADER: source})


async def retrieve_model(request: Request) -> Response:
    serving, exchange = await identified(request)
    model, source = await serving.models.retrieve(request.path_params["model"], exchange)
    return json_response(model, headers={SOURCE_HEADER: source})


OPERATIONS = (
    Operation(
        "GET", "/v1/models", list_models, summary="List models", tag="models", resource="models", also_at=("/models",)
    ),
    Operation(
        "GET",
        "/v1/models/{model:path}",
        retrieve_model,
        summary="Retrieve a model (ids keep their slashes: /v1/models/@cf/openai/gpt-oss-120b)",
        tag="models",
        resource="models",
        also_at=("/models/{model:path}",),
    ),
)
