"""What the proxy asks of every upstream dialect (the body shapes an upstream accepts and returns)."""

from __future__ import annotations

from typing import Any, Protocol

from app.catalog import Route
from app.dialects.context import ChatContext
from app.errors import ProxyError
from app.protocol.chat import ChatCompletion, ChatCompletionRequest
from app.streaming import ChunkEncoder


class ChatStreamTranslator(Protocol):
    """Turns upstream stream events into OpenAI chunk frames, one event at a time."""

    @property
    def done(self) -> bool:
        """True once the upstream's end marker was seen and the closing frames were produced."""

    def start(self) -> bytes:
        """Frames to send as soon as the upstream accepted the request."""

    def feed(self, data: bytes) -> bytes:
        """Frames for one event's `data` payload (empty when it carries nothing for the client)."""


class Dialect(Protocol):
    @property
    def name(self) -> str:
        """The registry key routes refer to."""

    def chat_path(self, model_id: str) -> str:
        """Path below the target's Workers AI base (`.../accounts/{id}/ai/`)."""

    def build_chat(self, request: ChatCompletionRequest, route: Route, max_tokens: int) -> dict[str, Any]: ...

    def parse_chat(self, payload: Any, ctx: ChatContext) -> ChatCompletion: ...

    def chat_stream(self, ctx: ChatContext, encoder: ChunkEncoder) -> ChatStreamTranslator: ...

    def embeddings_path(self, model_id: str) -> str: ...

    def build_embeddings(self, texts: list[str], route: Route) -> dict[str, Any]: ...

    def parse_embeddings(self, payload: Any, count: int) -> list[list[float]]:
        """Vectors in input order; raise UpstreamError when the reply does not hold `count` of them."""

    def error(self, status: int, body: bytes, headers: dict[str, str]) -> ProxyError:
        """The ProxyError for a failed upstream reply."""
