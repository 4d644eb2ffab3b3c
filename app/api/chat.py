"""POST /v1/chat/completions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import identified
from app.protocol.chat import ChatCompletionRequest


async def create_chat_completion(request: Request) -> Response:
    serving, exchange = await identified(request)
    chat = await parse_body(request, ChatCompletionRequest)
    return reply_response(await serving.chat.create(chat, exchange), request)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/chat/completions",
        create_chat_completion,
        summary="Create a chat completion",
        tag="chat",
        resource="chat",
        body=ChatCompletionRequest,
        also_at=("/chat/completions",),
        repeats=True,
    ),
)
