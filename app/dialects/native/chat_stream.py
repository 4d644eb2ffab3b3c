"""Workers AI `/ai/run/{model}` stream events -> OpenAI `chat.completion.chunk` frames.

Two event dialects share the route (wire spec, section 2): legacy `{"response": "tok", "p": "pad"}` events
with the cumulative usage on a last `{"response": "", "usage": {...}}` event, and OpenAI-shaped chunks
(`choices[0].delta`) whose per-chunk usage is incremental. Both end at `data: [DONE]`. Padding (`p`),
empty tokens, empty `tool_calls` lists and repeated finish frames produce nothing; the one finish frame
and the optional usage frame are written when `[DONE]` arrives.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.dialects.context import ChatContext
from app.dialects.native.chat import content_text, finish_reason, usage_from
from app.dialects.native.errors import error_from_payload
from app.errors import UpstreamError
from app.protocol.common import Usage
from app.streaming import DONE_FRAME, ChunkEncoder


class NativeChatStream:
    __slots__ = ("_chunk_usage", "_ctx", "_done", "_encoder", "_final_usage", "_finish", "_token_events")

    def __init__(self, ctx: ChatContext, encoder: ChunkEncoder) -> None:
        self._ctx = ctx
        self._encoder = encoder
        self._done = False
        self._finish: Any = None
        self._final_usage: Usage | None = None
        self._chunk_usage: Usage | None = None
        self._token_events = 0  # a stand-in count when the upstream reports no usage

    @property
    def done(self) -> bool:
        return self._done

    def start(self) -> bytes:
        return self._encoder.role()

    def feed(self, data: bytes) -> bytes:
        if self._done:
            return b""  # a second [DONE] or anything after the first
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            if data.strip() == b"[DONE]":
                self._done = True
                return self._closing()
            raise UpstreamError("Workers AI sent a malformed stream event") from None
        if type(event) is not dict:
            return b""
        token = event.get("response")
        if type(token) is str and (len(event) == 1 or (len(event) == 2 and "p" in event)):
            # the common legacy event, {"response": "tok", "p": "padding"}: nothing else to look at
            if not token:
                return b""
            self._token_events += 1
            return self._encoder.content(token)
        return self._any_event(event)

    def _any_event(self, event: dict[str, Any]) -> bytes:
        if event.get("finish_reason") and self._finish is None:
            self._finish = event["finish_reason"]
        if "response" in event:
            return self._legacy(event)
        choices = event.get("choices")
        if isinstance(choices, list):
            return self._openai_chunk(choices, event.get("usage"))
        if event.get("errors") or event.get("error"):
            raise error_from_payload(200, event, {})
        return b""

    def _legacy(self, event: dict[str, Any]) -> bytes:
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._final_usage = usage_from(usage)  # cumulative: the authoritative count
        token = event["response"]
        if token is None or token == "":
            return b""
        self._token_events += 1
        return self._encoder.content(token if isinstance(token, str) else content_text(token))

    def _openai_chunk(self, choices: list[Any], usage: Any) -> bytes:
        if isinstance(usage, dict):
            self._add_chunk_usage(usage)
        if not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        if choice.get("finish_reason") and self._finish is None:
            self._finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return b""
        out = b""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._encoder.reasoning(reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._token_events += 1
            out += self._encoder.content(content)
        return out

    def _add_chunk_usage(self, raw: dict[str, Any]) -> None:
        piece = usage_from(raw)
        if piece is None:
            return
        if self._chunk_usage is None:
            self._chunk_usage = piece
            return
        total = self._chunk_usage
        total["prompt_tokens"] += piece["prompt_tokens"]
        total["completion_tokens"] = total.get("completion_tokens", 0) + piece.get("completion_tokens", 0)
        total["total_tokens"] += piece["total_tokens"]

    def _closing(self) -> bytes:
        usage = self._final_usage or self._chunk_usage
        if usage is None:
            # OpenAI promises a usage chunk when asked; count the streamed tokens the upstream did not.
            count = self._token_events
            usage = {"prompt_tokens": 0, "completion_tokens": count, "total_tokens": count}
        out = self._encoder.finish(finish_reason(self._finish, usage, self._ctx.max_tokens))
        if self._ctx.include_usage and usage is not None:
            out += self._encoder.usage(usage)
        return out + DONE_FRAME
