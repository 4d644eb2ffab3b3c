"""The `openai` dialect: OpenAI-shaped bodies on Workers AI's own OpenAI-compatible routes and AI Gateway's."""

from __future__ import annotations

from typing import Any

from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.dialects.base import Dialect
from app.dialects.openai import chat, embeddings
from app.dialects.stream_events import ChatEventStream
from app.protocol.chat import ChatCompletionRequest
from app.routing.route import Route


class _Answers:
    def parse(self, payload: Any) -> UpstreamAnswer:
        return chat.parse_chat(payload)

    def stream(self, sink: ChoiceStream) -> ChatEventStream:
        return ChatEventStream(sink)


class OpenAIChat(_Answers):
    def build(
        self, request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        return chat.build_chat(request, route, max_tokens, stream=stream, model=model)


class OpenAIPrompt(_Answers):
    def build(
        self, prompt: str, fields: dict[str, Any], route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        return chat.build_prompt(prompt, fields, max_tokens, stream=stream, model=model)


class OpenAIEmbeddings:
    def build(self, texts: list[str], route: Route, model: str) -> dict[str, Any]:
        return embeddings.build_embeddings(texts, model)

    def parse(self, payload: Any, count: int) -> list[list[float]]:
        return embeddings.parse_embeddings(payload, count)


DIALECT = Dialect("openai", chat=OpenAIChat(), prompt=OpenAIPrompt(), embeddings=OpenAIEmbeddings())
