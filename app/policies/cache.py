"""The reply cache's decisions: what may be cached, under which key, for how long, and the entries' encoding.

- Key: the endpoint, the model served and its route, and the request body as the client sent it without what
  does not change the answer (`model` as asked, `user`, `stream`, `stream_options`, `metadata`, ...), with
  sorted keys, hashed: a request asked as a stream and the same request asked whole share an entry. With
  PROXY_CACHE_SCOPE=key the key's name is part of it.
- Chat answers are cached when deterministic (`temperature` 0 or a `seed`), or always / never
  (PROXY_CACHE_CHAT); never an answer cut by its token budget, never a request with images fetched from URLs.
- Embeddings are cached per input text, as packed float32.
- `Cache-Control: no-cache` skips the lookup, `no-store` the store; `x-proxy-cache-ttl: N` sets an entry's TTL.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from array import array
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import orjson

from app.chat.answer import FinalChoice
from app.chat.images import has_remote_images
from app.errors import InvalidRequest
from app.exchange import Exchange
from app.protocol.chat import ChatCompletionRequest
from app.protocol.common import GenerationRequest
from app.routing.route import Route
from app.stores.cache import CacheStore

log = logging.getLogger("workers_ai_proxy")
RESULT_HEADER = "x-proxy-cache"  # hit, miss, bypass
TTL_HEADER = "x-proxy-cache-ttl"
HITS_HEADER = "x-proxy-cache-hits"  # embeddings: "90/100" inputs answered from the cache
# request fields that do not change the answer (the model is keyed as served)
UNKEYED = frozenset({"model", "user", "stream", "stream_options", "metadata", "store", "service_tier"})
ANSWER_FIELDS = tuple(field.name for field in fields(FinalChoice))  # what a kept chat answer holds
# (Responses' `store` only decides whether the answer is kept for `previous_response_id`: not the answer)


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one request's answer is looked up and kept."""

    key: str
    lookup: bool
    store: bool
    ttl: float


def mark(exchange: Exchange, result: str) -> None:
    """What the cache did for this request, on the exchange (ledger, metrics) and in the reply's headers."""
    exchange.cache = result
    exchange.reply_headers[RESULT_HEADER] = result


def directives(exchange: Exchange, cache_control: str | None, ttl: str | None) -> None:
    """A request's cache headers, onto its exchange (a malformed TTL is the client's mistake: 400)."""
    if cache_control:
        said = {part.strip().lower() for part in cache_control.split(",")}
        exchange.cache_lookup = "no-cache" not in said
        exchange.cache_store = "no-store" not in said
    if ttl is not None:
        try:
            seconds = float(ttl)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 366 * 86_400:
            raise InvalidRequest(
                f"{TTL_HEADER} is a number of seconds, more than 0 and at most a year.", code="invalid_cache_ttl"
            )
        exchange.cache_ttl = seconds


class ReplyCache:
    __slots__ = ("_chat", "_per_key", "_store", "_ttl")

    def __init__(self, store: CacheStore, *, ttl: float, chat: str = "auto", scope: str = "global") -> None:
        self._store, self._ttl, self._chat, self._per_key = store, ttl, chat, scope == "key"

    # -- chat ---------------------------------------------------------------------------------------
    def chat_slot(self, request: ChatCompletionRequest, route: Route, exchange: Exchange) -> Slot | None:
        """None: this request is not cached (it says `bypass`)."""
        if has_remote_images(request):
            return None
        return self.answer_slot(request, route, exchange)

    def answer_slot(self, request: GenerationRequest, route: Route, exchange: Exchange) -> Slot | None:
        """A generated answer's slot, in the entries of the endpoint asked (chat, completions, messages,
        responses); None: not cached."""
        deterministic = request.temperature == 0 or request.seed is not None
        if self._chat == "never" or (self._chat == "auto" and not deterministic):
            return None
        if not exchange.cache_lookup and not exchange.cache_store:
            return None
        raw = exchange.json_body
        if raw is not None:  # the client's own body, in its protocol: keyed as it came (cheaper than a dump)
            body: dict[str, Any] = {name: value for name, value in raw.items() if name not in UNKEYED}
        else:  # made in-process, not read off the wire
            body = request.model_dump(mode="json", exclude_none=True, exclude=set(UNKEYED))
        return self._slot(exchange, self._key(exchange.endpoint, route, exchange, body))

    async def chat_answer(self, slot: Slot, exchange: Exchange) -> list[FinalChoice] | None:
        (found,) = await self._get([slot.key])
        if found is None:
            return None
        exchange.cache_found = ((slot.key,), (found,))
        return [FinalChoice(**choice) for choice in orjson.loads(found)]

    async def keep_chat_answer(self, slot: Slot, finals: list[FinalChoice]) -> None:
        if any(final.finish_reason == "length" for final in finals):
            return  # cut by its token budget: asked again, it may come out whole
        entry = orjson.dumps([{name: getattr(final, name) for name in ANSWER_FIELDS} for final in finals])
        await self._put([(slot.key, entry)], slot.ttl)

    # -- embeddings ---------------------------------------------------------------------------------
    def embedding_keys(self, route: Route, texts: list[str], exchange: Exchange) -> list[str]:
        stem = self._key("embeddings", route, exchange, None)
        return [hashlib.sha256((stem + text).encode()).hexdigest() for text in texts]

    async def vectors(self, keys: list[str], exchange: Exchange) -> list[list[float] | None]:
        if not exchange.cache_lookup:
            return [None] * len(keys)
        found = await self._get(keys)
        if keys and all(raw is not None for raw in found):
            exchange.cache_found = (tuple(keys), tuple(raw for raw in found if raw is not None))
        return [None if raw is None else unpacked(raw) for raw in found]

    async def entries(self, keys: tuple[str, ...]) -> list[bytes | None]:
        """The entries as stored (None: gone), for a repeat of a hit (api.repeat_hits)."""
        return await self._get(list(keys))

    @staticmethod
    def packed(vectors: list[list[float]]) -> list[bytes] | None:
        """The vectors as they are kept (packed float32); None when a value does not fit float32 (not kept)."""
        try:
            return [_float32(vector) for vector in vectors]
        except (struct.error, OverflowError):
            return None

    async def keep_vectors(self, keys: list[str], packed: list[bytes], exchange: Exchange) -> None:
        """Vectors made by `packed`: the answer served was read back from these same bytes, so that a later hit
        answers exactly what the miss did."""
        if exchange.cache_store and keys:
            await self._put(list(zip(keys, packed, strict=True)), exchange.cache_ttl or self._ttl)

    # -- internals ----------------------------------------------------------------------------------
    def _slot(self, exchange: Exchange, key: str) -> Slot:
        return Slot(key, exchange.cache_lookup, exchange.cache_store, exchange.cache_ttl or self._ttl)

    def _key(self, family: str, route: Route, exchange: Exchange, body: Any) -> str:
        identity = exchange.identity
        # per key when asked; always per Cloudflare account in pass-through mode (tenants never share answers)
        scope = "" if identity is None else identity.name if self._per_key else identity.tenant
        canonical = orjson.dumps([family, route.model_id, route.upstream, scope, body], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()

    async def _get(self, keys: list[str]) -> list[bytes | None]:
        try:
            return await self._store.get_many(keys)
        except Exception as exc:  # the cache must never fail a request: a miss
            log.warning("the reply cache could not be read (%s)", type(exc).__name__)
            return [None] * len(keys)

    async def _put(self, entries: list[tuple[str, bytes]], ttl: float) -> None:
        try:
            await self._store.put_many(entries, ttl)
        except Exception as exc:
            log.warning("the reply cache could not be written (%s)", type(exc).__name__)


def _float32(vector: list[float]) -> bytes:
    return _packer(len(vector)).pack(*vector)  # 2.4x faster than array("f", vector) for 768 values


@lru_cache(maxsize=64)
def _packer(size: int) -> struct.Struct:
    return struct.Struct(f"={size}f")  # native order, as array("f") reads it back


def unpacked(raw: bytes) -> list[float]:
    return array("f", raw).tolist()
