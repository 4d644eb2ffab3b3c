"""Stored Responses on Redis, so that a `previous_response_id` made on one replica is continued on another: one
JSON value per response, with its TTL (PROXY_RESPONSES_TTL); Redis's own memory limit bounds them."""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from app.stores.responses import StoredResponse

PREFIX = "{wap}:resp:"


class RedisResponseStore:
    __slots__ = ("_redis", "_ttl")

    def __init__(self, redis: Redis, ttl: float) -> None:
        self._redis, self._ttl = redis, max(1, int(ttl))

    async def get(self, response_id: str, owner: str) -> StoredResponse | None:
        raw = await self._redis.get(PREFIX + response_id)
        if raw is None:
            return None
        data = orjson.loads(raw)
        if data["owner"] != owner:
            return None
        return StoredResponse(data["response"], data["input_items"], data["history"], data["owner"], data["size"])

    async def put(self, stored: StoredResponse) -> None:
        value = orjson.dumps(
            {
                "response": stored.response,
                "input_items": stored.input_items,
                "history": stored.history,
                "owner": stored.owner,
                "size": stored.size,
            }
        )
        await self._redis.set(PREFIX + stored.response["id"], value, ex=self._ttl)

    async def delete(self, response_id: str, owner: str) -> bool:
        if await self.get(response_id, owner) is None:
            return False
        return bool(await self._redis.delete(PREFIX + response_id))
