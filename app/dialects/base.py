"""What a dialect is: a table of translators, one per resource (chat, prompt, embeddings; later images, audio,
rerank). A dialect that has no translator for a resource cannot serve it: `supported` says so, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest
from app.routing.route import Route

T = TypeVar("T")


class ChatStreamTranslator(Protocol):
    """Reads upstream stream events, one `data` payload at a time, into a ChoiceStream."""

    @property
    def done(self) -> bool:
        """True once the upstream's end marker was seen (the choice is then finished)."""

    def feed(self, data: bytes) -> None: ...


class AnswerReader(Protocol):
    def parse(self, payload: Any) -> UpstreamAnswer:
        """A whole reply."""

    def stream(self, sink: ChoiceStream) -> ChatStreamTranslator: ...


class ChatTranslator(AnswerReader, Protocol):
    def build(
        self, request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        """`model` is the name the route's target gives the model (where the body carries one)."""


class PromptTranslator(AnswerReader, Protocol):
    """A legacy text completion (`POST /v1/completions`), sent to the chat endpoint of the route."""

    def build(
        self, prompt: str, fields: dict[str, Any], route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]: ...


class EmbeddingsTranslator(Protocol):
    def build(self, texts: list[str], route: Route, model: str) -> dict[str, Any]: ...

    def parse(self, payload: Any, count: int) -> list[list[float]]:
        """Vectors in input order; raise UpstreamError when the reply does not hold `count` of them."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # the key routes refer to (DIALECTS)
    chat: ChatTranslator | None = None
    prompt: PromptTranslator | None = None
    embeddings: EmbeddingsTranslator | None = None


def supported(translator: T | None, route: Route, resource: str) -> T:
    """The route's translator for `resource`, or the one 400 for a route that cannot serve it."""
    if translator is None:
        raise InvalidRequest(
            f"{route.requested} is sent upstream as {route.upstream!r}, which does not support {resource}: "
            "this is not supported by this route.",
            param="model",
            code="unsupported_route",
        )
    return translator
