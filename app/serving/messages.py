"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API as an edge adapter onto chat. The
request is translated once (`app.bridges.messages.request`), served by the chat pipeline (routing, fallbacks,
quirks, usage, metrics), and the answer leaves as an Anthropic message or event stream."""

from __future__ import annotations

from typing import Any

from app.bridges.messages.reply import message
from app.bridges.messages.request import to_chat
from app.chat.ids import CompletionIds
from app.exchange import Exchange
from app.frames.anthropic import MessagesEncoder, MessagesEnding
from app.frames.openai import FrameEncoder, StreamEnding
from app.pipeline.core import Reply
from app.protocol.anthropic.messages import CountTokensRequest, MessagesRequest
from app.serving.bridged import serve_bridged
from app.serving.chat import ChatCompletions, ChatOutput

PATH = "/v1/messages"


def _encoder(ids: CompletionIds, index: int) -> FrameEncoder:
    return MessagesEncoder(ids.completion_id, ids.model)


def _ending(first: FrameEncoder, ids: CompletionIds) -> StreamEnding:
    assert isinstance(first, MessagesEncoder)
    return MessagesEnding(first)


MESSAGES = ChatOutput("msg_", message, _encoder, _ending)


class Messages:
    def __init__(self, chat: ChatCompletions) -> None:
        self.chat = chat

    async def create(self, request: MessagesRequest, exchange: Exchange) -> Reply:
        translated = to_chat(request)
        return await serve_bridged(self.chat, translated.request, translated.ignored_tools, exchange, MESSAGES)

    async def count_tokens(self, request: CountTokensRequest, exchange: Exchange) -> dict[str, Any]:
        """An estimate: see `ChatCompletions.count_input_tokens`."""
        chat = to_chat(MessagesRequest.model_validate({**request.model_dump(), "max_tokens": 1})).request
        return {"input_tokens": await self.chat.count_input_tokens(chat, exchange, PATH)}
