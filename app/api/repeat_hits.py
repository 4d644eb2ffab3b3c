"""Repeats of a reply-cache hit, answered before the framework (issue 14: a hit must cost far less than a relay).

A whole reply served from the reply cache leaves a *recipe*: the caller it was for, the entries it was made of (as
read), what its exchange said (model, route, usage, sizes) and the reply's bytes with the parts that are new each
time (`id`, `created`) cut out. The same request again (same path, same caller, byte-identical body, no header that
could change the answer) is answered from the recipe: the caller identified again, the entries read again and found
unchanged, the admission hooks run, the reply sent with a fresh id, and the exchange settled and observed as any
other (ledger, limits, metrics, access log). Everything else goes the whole way, which validates and renders errors:
a new body, an entry gone or changed, a refusal (admission takes all or nothing), the drain.

The body was validated when the recipe was made: a recipe exists only for a body that was served.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from app.api.operation import Operation
from app.api.request_id import RAW_NAME as REQUEST_ID_HEADER
from app.api.request_id import SCOPE_KEY as REQUEST_ID_KEY
from app.api.request_id import chosen_id
from app.api.state import IDENTITY_KEY
from app.errors import ProxyError
from app.exchange import Exchange
from app.pipeline.repeat import Asked, again, conclude, current
from app.policies.cache import mark
from app.policies.identity import Credentials, Identity

if TYPE_CHECKING:
    from app.api.state import AppState
    from app.policies.cache import ReplyCache


MAX_BODY = 64 * 1024  # bodies worth keeping a recipe for
MAX_RECIPES = 4096
MAX_RECIPE_BYTES = 64 * 1024 * 1024  # the replies and entries they hold (an embeddings batch's can be megabytes)
# Headers that change nothing in the answer (the SDKs' own, transport); any other sends the request the whole way.
INERT = frozenset(
    {
        b"host",
        b"user-agent",
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"connection",
        b"keep-alive",
        b"content-type",
        b"openai-organization",
        b"openai-project",
    }
)
KNOWN = frozenset({b"authorization", b"content-length", b"x-api-key", REQUEST_ID_HEADER})  # read by `answer`


@dataclass(frozen=True, slots=True)
class Template:
    """A reply's bytes with its `id` and `created` cut out (or none: the embeddings list has neither)."""

    parts: tuple[bytes, ...]
    id_prefix: str = ""
    id_hex_digits: int = 0

    @classmethod
    def of(cls, body: bytes) -> Template | None:
        try:
            reply = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(reply, dict):
            return None
        made_id, created = reply.get("id"), reply.get("created")
        if made_id is None and created is None:
            return cls((body,))
        if not isinstance(made_id, str) or type(created) is not int or "-" not in made_id:
            return None
        prefix, _, digits = made_id.rpartition("-")
        head, sep, rest = body.partition(orjson.dumps(made_id))
        stamp = b'"created":%d' % created
        if not sep or rest.count(stamp) != 1 or head.count(stamp) or sep in rest:
            return None  # not where a reply of ours has them: no recipe
        middle, _, tail = rest.partition(stamp)
        return cls((head, middle, tail), prefix + "-", len(digits))

    def render(self) -> bytes:
        if len(self.parts) == 1:
            return self.parts[0]
        head, middle, tail = self.parts
        fresh = f'"{self.id_prefix}{random.getrandbits(4 * self.id_hex_digits):0{self.id_hex_digits}x}"'
        return b'%s%s%s"created":%d%s' % (head, fresh.encode(), middle, int(time.time()), tail)


@dataclass(slots=True)
class Recipe:
    asked: Asked  # who asked what (model, route, sizes) and the usage it was answered with
    keys: tuple[str, ...]  # the cache entries it was made of
    entries: tuple[bytes, ...]  # as they were read
    headers: tuple[tuple[bytes, bytes], ...]  # the reply's own (content type, served model, notices)
    template: Template
    valid: bool = True  # False once an entry is found gone or changed


class RepeatHits:
    """The recipes (bounded), and the early answer."""

    def __init__(self, operations: Sequence[Operation]) -> None:
        self.paths = frozenset(
            path
            for operation in operations
            if operation.repeats and operation.method == "POST"
            for path in (operation.path, *operation.also_at)
        )
        self._memo: dict[tuple[str, str, bytes], Recipe] = {}  # (path, identity name, body digest) -> recipe
        self._sizes: set[int] = set()  # the body sizes of the recipes (a superset)
        self._bytes = 0  # what the recipes hold
        self._state: AppState | None = None
        self._cache: ReplyCache | None = None
        self.served = 0  # repeats answered here (tests and the curious read it)

    def enable(self, state: AppState | None, cache: ReplyCache | None) -> None:
        """On while the app runs with a reply cache (and without PROXY_LOG_BODIES: bodies are logged the whole way)."""
        on = state is not None and cache is not None and not state.log_bodies
        self._state, self._cache = (state, cache) if on else (None, None)
        self._memo.clear()
        self._sizes.clear()
        self._bytes = 0

    @property
    def enabled(self) -> bool:
        return self._state is not None

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None: answered here. Otherwise what the whole way reads the request body from."""
        state, cache = self._state, self._cache
        if state is None or cache is None:
            return receive
        if not self._sizes:
            return receive  # no recipes yet: a request costs nothing here
        authorization = api_key = sent_id = None
        length = -1
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"x-api-key":
                api_key = value.decode("latin-1")
            elif name == REQUEST_ID_HEADER:
                sent_id = value.decode("latin-1")
            elif not _plain(name):
                return receive
        if length not in self._sizes or state.drain.draining:
            return receive  # a body of no recipe's size is not even read here
        first = await receive()
        if first["type"] == "http.request" and not first.get("more_body", False) and len(first["body"]) == length:
            body: bytes = first["body"]  # the usual case: the whole body in one message
        else:
            found_body, messages = await _read_rest(first, receive, length)
            if found_body is None:
                return _replaying(messages, receive)
            body, first = found_body, {"type": "http.request", "body": found_body, "more_body": False}
        try:
            identity = await state.guard.identify(Credentials(authorization, api_key))
        except ProxyError:
            return _replaying([first], receive)  # the whole way says why
        scope[IDENTITY_KEY] = identity  # the whole way need not ask again
        memo_key = (scope["path"], identity.name, hashlib.sha256(body).digest())
        recipe = self._memo.get(memo_key)
        if recipe is not None:
            if await self._answer(recipe, identity, sent_id, scope, send, state, cache):
                return None
            if not recipe.valid:
                self._memo.pop(memo_key, None)
        return _replaying([first], receive)

    async def _answer(
        self,
        recipe: Recipe,
        identity: Identity,
        sent_id: str | None,
        scope: Scope,
        send: Send,
        state: AppState,
        cache: ReplyCache,
    ) -> bool:
        asked, pipeline = recipe.asked, state.pipeline
        if asked.identity is not identity and asked.identity != identity:  # pass-through: one made per request
            return False
        if not current(asked, pipeline):
            return False
        found = await cache.entries(recipe.keys)
        for now, then in zip(found, recipe.entries, strict=True):
            if now is not then and now != then:
                recipe.valid = False  # gone, or replaced by another answer
                return False
        request_id = chosen_id(sent_id)
        exchange = await again(pipeline, asked, identity, request_id)
        if exchange is None:
            return False  # refused: the whole way renders the refusal
        scope[REQUEST_ID_KEY] = request_id
        mark(exchange, "hit")
        reply = recipe.template.render()
        headers = [*recipe.headers, (b"content-length", b"%d" % len(reply)), (REQUEST_ID_HEADER, request_id.encode())]
        for name, value in exchange.reply_headers.items():  # the cache's, rate limits
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": reply})
        finally:
            await conclude(pipeline, exchange)
        self.served += 1
        return True

    def remember(
        self, scope: Scope, body: bytes, exchange: Exchange, headers: list[tuple[bytes, bytes]], reply: bytes
    ) -> None:
        """After the whole way served a whole reply: a recipe when it came from the cache, for a request whose
        headers change nothing (the same test as `answer`'s)."""
        found, state = exchange.cache_found, self._state
        if exchange.cache != "hit" or found is None or state is None or not 0 < len(body) <= MAX_BODY:
            return
        if scope["path"] not in self.paths or not all(_plain(name) for name, _ in scope["headers"]):
            return
        asked, template = Asked.of(exchange, state.pipeline), Template.of(reply)
        if asked is None or template is None:
            return
        held = len(reply) + sum(map(len, found[1]))
        if len(self._memo) >= MAX_RECIPES or self._bytes + held > MAX_RECIPE_BYTES:
            self._memo.clear()  # all at once: the next hits make them again
            self._sizes.clear()
            self._bytes = 0
        self._sizes.add(len(body))
        self._bytes += held
        self._memo[(scope["path"], asked.identity.name, hashlib.sha256(body).digest())] = Recipe(
            asked, *found, tuple(header for header in headers if header[0] != b"content-length"), template
        )


def _plain(name: bytes) -> bool:
    return name in INERT or name in KNOWN or name.startswith(b"x-stainless-")


async def _read_rest(first: Message, receive: Receive, length: int) -> tuple[bytes | None, list[Message]]:
    """A body in several messages: the body (None when it is not `length` bytes in full), and the messages read,
    for the whole way to read again."""
    messages = [first]
    chunks: list[bytes] = []
    message = first
    size = 0
    while True:
        if message["type"] != "http.request":
            return None, messages
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > length:
            return None, messages
        if not message.get("more_body", False):
            return (b"".join(chunks) if size == length else None), messages
        message = await receive()
        messages.append(message)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(reversed(messages))

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


class ProxyApp(FastAPI):
    """FastAPI, with the repeats of reply-cache hits answered before its middleware and routing."""

    repeats: RepeatHits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        repeats = self.repeats
        if repeats.enabled and scope["type"] == "http" and scope["path"] in repeats.paths and scope["method"] == "POST":
            passed = await repeats.answer(scope, receive, send)
            if passed is None:
                return
            receive = passed
        await super().__call__(scope, receive, send)
