"""Generated images kept for `response_format: url`, served from `GET /v1/images/files/{id}` for
PROXY_IMAGE_URL_TTL seconds under an unguessable id: in the proxy's memory, or in Redis (every replica serves
them) when PROXY_REDIS_URL is set. Stored as the content type, a newline, and the bytes."""

from __future__ import annotations

import re
import secrets

from app.stores.cache import CacheStore

PREFIX = "image-file:"
FILE_ID = re.compile(r"img_[A-Za-z0-9_-]{32}")


class ImageFiles:
    __slots__ = ("_store", "_ttl")

    def __init__(self, store: CacheStore, ttl: float) -> None:
        self._store, self._ttl = store, ttl

    async def keep(self, data: bytes, content_type: str) -> str:
        file_id = "img_" + secrets.token_urlsafe(24)  # 192 bits: a URL nobody can guess
        await self._store.put_many([(PREFIX + file_id, content_type.encode() + b"\n" + data)], self._ttl)
        return file_id

    async def read(self, file_id: str) -> tuple[bytes, str] | None:
        if FILE_ID.fullmatch(file_id) is None:
            return None
        (found,) = await self._store.get_many([PREFIX + file_id])
        if found is None:
            return None
        content_type, _, data = found.partition(b"\n")
        return data, content_type.decode()
