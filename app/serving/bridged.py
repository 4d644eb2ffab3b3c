"""What both protocol bridges (Messages, Responses) do around the chat pipeline: the tools a translation left out,
because the proxy cannot run them, are named in a warning and in a reply header."""

from __future__ import annotations

import logging

from app.exchange import Exchange
from app.pipeline.core import Reply
from app.protocol.chat import ChatCompletionRequest
from app.serving.chat import ChatCompletions, ChatOutput

log = logging.getLogger("workers_ai_proxy")
IGNORED_TOOLS_HEADER = "x-proxy-ignored-tools"


async def serve_bridged(
    chat: ChatCompletions,
    request: ChatCompletionRequest,
    ignored_tools: tuple[str, ...],
    exchange: Exchange,
    output: ChatOutput,
) -> Reply:
    if ignored_tools:
        log.warning("%s: tools that cannot run here were left out: %s", exchange.request_id, ", ".join(ignored_tools))
    reply = await chat.create(request, exchange, output)
    if ignored_tools:
        reply.headers[IGNORED_TOOLS_HEADER] = ",".join(ignored_tools)
    return reply
