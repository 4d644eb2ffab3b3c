"""POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API). Errors leave in Anthropic's shape;
`x-api-key` or `Authorization: Bearer` carry our client keys; `anthropic-version` and `anthropic-beta` are
accepted and not needed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import json_response, reply_response
from app.api.state import identified
from app.protocol.anthropic.messages import CountTokensRequest, MessagesRequest


async def create_message(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, MessagesRequest)
    return reply_response(await serving.messages.create(body, exchange), request)


async def count_message_tokens(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, CountTokensRequest)
    return json_response(await serving.messages.count_tokens(body, exchange))


OPERATIONS = (
    Operation(
        "POST",
        "/v1/messages",
        create_message,
        summary="Create a message (Anthropic Messages API)",
        tag="messages",
        resource="messages",
        body=MessagesRequest,
        also_at=("/messages",),
        errors="anthropic",
    ),
    Operation(
        "POST",
        "/v1/messages/count_tokens",
        count_message_tokens,
        summary="Count a message's input tokens (an estimate)",
        tag="messages",
        resource="messages",
        body=CountTokensRequest,
        also_at=("/messages/count_tokens",),
        errors="anthropic",
    ),
)
