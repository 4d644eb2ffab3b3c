"""POST /v1/responses, GET / DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items: OpenAI's Responses API
as an edge adapter onto chat. The conversation (the stored one named by `previous_response_id`, then the input) is
translated once (`app.bridges.responses.request`), served by the chat pipeline, and the answer leaves as a
`response` object or event stream; with `store` (the default) it is kept for the next turn."""

from __future__ import annotations

from typing import Any

import orjson

from app.bridges.responses.items import input_items
from app.bridges.responses.reply import Shell, whole
from app.bridges.responses.request import to_chat
from app.chat.answer import FinalChoice
from app.chat.ids import CompletionIds
from app.errors import InvalidRequest, NotFound
from app.exchange import Exchange
from app.frames.openai import FrameEncoder, StreamEnding
from app.frames.responses import ResponsesEncoder, ResponsesEnding
from app.pipeline.core import Reply
from app.protocol.responses import ResponsesRequest
from app.serving.bridged import serve_bridged
from app.serving.chat import ChatCompletions, ChatOutput
from app.stores.responses import ResponseStore, StoredResponse

PATH = "/v1/responses"
MAX_LISTED = 100  # input_items' `limit`, as OpenAI bounds it


class Responses:
    def __init__(self, chat: ChatCompletions, store: ResponseStore) -> None:
        self.chat = chat
        self.store = store

    async def create(self, request: ResponsesRequest, exchange: Exchange) -> Reply:
        owner = _owner(exchange)
        history, history_size = await self._history(request, exchange)
        items = input_items(request)
        translated = to_chat(request, [*history, *items])
        shell = Shell(request, request.previous_response_id)
        store = self.store if request.store is not False else None

        async def remember(response: dict[str, Any]) -> None:
            if store is not None:
                size = history_size + len(orjson.dumps(items)) + len(orjson.dumps(response["output"]))
                await store.put(StoredResponse(response, items, history, owner, size))

        def whole_response(ids: CompletionIds, finals: list[FinalChoice]) -> dict[str, Any]:
            return whole(shell, ids, finals)

        def encoder(ids: CompletionIds, index: int) -> FrameEncoder:
            return ResponsesEncoder(shell, ids)

        def ending(first: FrameEncoder, ids: CompletionIds) -> StreamEnding:
            assert isinstance(first, ResponsesEncoder)
            return ResponsesEnding(first, remember)

        output = ChatOutput("resp_", whole_response, encoder, ending)
        reply = await serve_bridged(self.chat, translated.request, translated.ignored_tools, exchange, output)
        if isinstance(reply.body, dict):
            await remember(reply.body)
        return reply

    async def input_tokens(self, request: ResponsesRequest, exchange: Exchange) -> dict[str, Any]:
        """An estimate: see `ChatCompletions.count_input_tokens`."""
        history, _ = await self._history(request, exchange)
        chat = to_chat(request, [*history, *input_items(request)]).request
        return {
            "object": "response.input_tokens",
            "input_tokens": await self.chat.count_input_tokens(chat, exchange, PATH),
        }

    async def retrieve(self, response_id: str, exchange: Exchange) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return (await self._stored(response_id, exchange)).response

        result: dict[str, Any] = await self.chat.pipeline.run_local(exchange, work)
        return result

    async def delete(self, response_id: str, exchange: Exchange) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            if not await self.store.delete(response_id, _owner(exchange)):
                raise _not_found(response_id)
            return {"id": response_id, "object": "response", "deleted": True}

        result: dict[str, Any] = await self.chat.pipeline.run_local(exchange, work)
        return result

    async def input_items(
        self, response_id: str, exchange: Exchange, limit: int, order: str, after: str | None
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LISTED:
            raise InvalidRequest(f"`limit` is between 1 and {MAX_LISTED}.", param="limit")
        if order not in ("asc", "desc"):
            raise InvalidRequest("`order` is `asc` or `desc`.", param="order")

        async def work() -> dict[str, Any]:
            items = list((await self._stored(response_id, exchange)).input_items)
            if order == "desc":
                items.reverse()
            if after is not None:
                ids = [item.get("id") for item in items]
                items = items[ids.index(after) + 1 :] if after in ids else []
            page = items[:limit]
            return {
                "object": "list",
                "data": page,
                "first_id": page[0].get("id") if page else None,
                "last_id": page[-1].get("id") if page else None,
                "has_more": len(items) > limit,
            }

        result: dict[str, Any] = await self.chat.pipeline.run_local(exchange, work)
        return result

    async def _history(self, request: ResponsesRequest, exchange: Exchange) -> tuple[list[dict[str, Any]], int]:
        """The conversation `previous_response_id` continues (none without one), and its size."""
        if not request.previous_response_id:
            return [], 0
        previous = await self.store.get(request.previous_response_id, _owner(exchange))
        if previous is None:
            raise NotFound(
                f"Previous response with id '{request.previous_response_id}' not found.", param="previous_response_id"
            )
        return previous.conversation, previous.size

    async def _stored(self, response_id: str, exchange: Exchange) -> StoredResponse:
        stored = await self.store.get(response_id, _owner(exchange))
        if stored is None:
            raise _not_found(response_id)
        return stored


def _owner(exchange: Exchange) -> str:
    """Whose stored responses these are: each client key sees only its own."""
    return exchange.identity.name if exchange.identity is not None else ""


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")
