"""POST /v1/chat/completions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.endpoint import Endpoint
from app.api.respond import reply_response
from app.api.services import authenticated
from app.protocol.chat import ChatCompletionRequest


async def create_chat_completion(request: Request) -> Response:
    proxy, caller = authenticated(request)
    chat = await parse_body(request, ChatCompletionRequest)
    return reply_response(await proxy.chat(chat, caller), request)


ENDPOINTS = (
    Endpoint(
        "POST",
        "/v1/chat/completions",
        create_chat_completion,
        summary="Create a chat completion",
        tag="chat",
        body=ChatCompletionRequest,
        also_at=("/chat/completions",),
    ),
)
