"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.body import openapi_body, parse_body
from app.api.respond import json_response, sse_response
from app.api.services import services, upstream_token
from app.protocol.chat import ChatCompletionRequest

router = APIRouter(tags=["chat"])


async def create_chat_completion(request: Request) -> Response:
    token = upstream_token(request)
    chat = await parse_body(request, ChatCompletionRequest)
    result = await services(request).proxy.chat(chat, token)
    return json_response(result) if isinstance(result, dict) else sse_response(result)


router.add_api_route(
    "/v1/chat/completions",
    create_chat_completion,
    methods=["POST"],
    openapi_extra=openapi_body(ChatCompletionRequest),
    summary="Create a chat completion",
)
router.add_api_route("/chat/completions", create_chat_completion, methods=["POST"], include_in_schema=False)
