"""The `openai` dialect: OpenAI-shaped bodies on Workers AI's own OpenAI-compatible routes and AI Gateway's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.catalog import Route
from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.dialects import errors
from app.dialects.openai import chat, embeddings
from app.dialects.stream_events import ChatEventStream
from app.errors import ProxyError
from app.protocol.chat import ChatCompletionRequest


@dataclass(frozen=True, slots=True)
class OpenAIDialect:
    name: str = "openai"

    def build_chat(
        self, request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        return chat.build_chat(request, route, max_tokens, stream=stream, model=model)

    def build_prompt(
        self, prompt: str, fields: dict[str, Any], route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        return chat.build_prompt(prompt, fields, max_tokens, stream=stream, model=model)

    def parse_chat(self, payload: Any) -> UpstreamAnswer:
        return chat.parse_chat(payload)

    def chat_stream(self, sink: ChoiceStream) -> ChatEventStream:
        return ChatEventStream(sink)

    def build_embeddings(self, texts: list[str], route: Route, model: str) -> dict[str, Any]:
        return embeddings.build_embeddings(texts, model)

    def parse_embeddings(self, payload: Any, count: int) -> list[list[float]]:
        return embeddings.parse_embeddings(payload, count)

    def error(self, status: int, body: bytes, headers: dict[str, str]) -> ProxyError:
        return errors.upstream_error(status, body, headers)


DIALECT = OpenAIDialect()
