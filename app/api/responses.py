"""POST /v1/responses, GET and DELETE /v1/responses/{response_id}, GET /v1/responses/{response_id}/input_items
(OpenAI's Responses API). Errors leave in OpenAI's shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import json_response, reply_response
from app.api.state import identified
from app.errors import InvalidRequest
from app.protocol.responses import ResponsesRequest

DEFAULT_LIMIT = 20  # input_items' page size, as OpenAI's


async def create_response(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, ResponsesRequest)
    return reply_response(await serving.responses.create(body, exchange), request)


async def count_input_tokens(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, ResponsesRequest)
    return json_response(await serving.responses.input_tokens(body, exchange))


async def retrieve_response(request: Request) -> Response:
    serving, exchange = await identified(request)
    return json_response(await serving.responses.retrieve(request.path_params["response_id"], exchange))


async def delete_response(request: Request) -> Response:
    serving, exchange = await identified(request)
    return json_response(await serving.responses.delete(request.path_params["response_id"], exchange))


async def list_input_items(request: Request) -> Response:
    serving, exchange = await identified(request)
    query = request.query_params
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise InvalidRequest("`limit` is an integer.", param="limit") from None
    page = await serving.responses.input_items(
        request.path_params["response_id"], exchange, limit, query.get("order", "desc"), query.get("after")
    )
    return json_response(page)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/responses",
        create_response,
        summary="Create a response (OpenAI Responses API)",
        tag="responses",
        resource="responses",
        body=ResponsesRequest,
        also_at=("/responses",),
    ),
    Operation(
        "POST",
        "/v1/responses/input_tokens",
        count_input_tokens,
        summary="Count a response's input tokens (an estimate)",
        tag="responses",
        resource="responses",
        body=ResponsesRequest,
        also_at=("/responses/input_tokens",),
    ),
    Operation(
        "GET",
        "/v1/responses/{response_id}",
        retrieve_response,
        summary="Retrieve a stored response",
        tag="responses",
        resource="responses",
        also_at=("/responses/{response_id}",),
    ),
    Operation(
        "DELETE",
        "/v1/responses/{response_id}",
        delete_response,
        summary="Delete a stored response",
        tag="responses",
        resource="responses",
        also_at=("/responses/{response_id}",),
    ),
    Operation(
        "GET",
        "/v1/responses/{response_id}/input_items",
        list_input_items,
        summary="List a stored response's input items",
        tag="responses",
        resource="responses",
        also_at=("/responses/{response_id}/input_items",),
    ),
)
