"""What the proxy asks of every upstream dialect (the body shapes an upstream accepts and returns)."""

from __future__ import annotations

from typing import Any, Protocol

from app.catalog import Route
from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.errors import ProxyError
from app.protocol.chat import ChatCompletionRequest


class ChatStreamTranslator(Protocol):
    """Reads upstream stream events, one `data` payload at a time, into a ChoiceStream."""

    @property
    def done(self) -> bool:
        """True once the upstream's end marker was seen (the choice is then finished)."""

    def feed(self, data: bytes) -> None: ...


class Dialect(Protocol):
    @property
    def name(self) -> str:
        """The registry key routes refer to."""

    def build_chat(
        self, request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        """`model` is the name the route's target gives the model (where the body carries one)."""

    def build_prompt(
        self, prompt: str, fields: dict[str, Any], route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        """A legacy text completion (`POST /v1/completions`), sent to the chat endpoint of the route."""

    def parse_chat(self, payload: Any) -> UpstreamAnswer:
        """A whole reply, chat or text completion."""

    def chat_stream(self, sink: ChoiceStream) -> ChatStreamTranslator: ...

    def build_embeddings(self, texts: list[str], route: Route, model: str) -> dict[str, Any]: ...

    def parse_embeddings(self, payload: Any, count: int) -> list[list[float]]:
        """Vectors in input order; raise UpstreamError when the reply does not hold `count` of them."""

    def error(self, status: int, body: bytes, headers: dict[str, str]) -> ProxyError:
        """The ProxyError for a failed upstream reply."""
