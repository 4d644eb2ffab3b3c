"""GET and PATCH /v1/gateway/logs/{log_id}: AI Gateway log entries and feedback, with the server's token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import json_response
from app.api.state import identified
from app.errors import InvalidRequest
from app.protocol.gateway_logs import GatewayLogFeedback


async def get_gateway_log(request: Request) -> Response:
    serving, exchange = await identified(request)
    return json_response(await serving.gateway_logs.entry(request.path_params["log_id"], exchange))


async def patch_gateway_log(request: Request) -> Response:
    serving, exchange = await identified(request)
    feedback = await parse_body(request, GatewayLogFeedback)
    if not feedback.changes():
        raise InvalidRequest("Send at least one of feedback, score and metadata.", param="feedback")
    return json_response(await serving.gateway_logs.entry(request.path_params["log_id"], exchange, feedback.changes()))


OPERATIONS = (
    Operation(
        "GET",
        "/v1/gateway/logs/{log_id}",
        get_gateway_log,
        summary="Read an AI Gateway log entry",
        tag="gateway",
        resource="gateway_logs",
    ),
    Operation(
        "PATCH",
        "/v1/gateway/logs/{log_id}",
        patch_gateway_log,
        summary="Send feedback on an AI Gateway log entry",
        tag="gateway",
        resource="gateway_logs",
        body=GatewayLogFeedback,
    ),
)
