"""Anthropic's Messages stream as bytes: `event:` + `data:` frames in exactly Anthropic's order.

message_start, then per content block content_block_start / content_block_delta (thinking_delta, text_delta,
input_json_delta) / content_block_stop with increasing indices never shared between blocks, then message_delta
(stop reason, usage) and message_stop. A failure after the start is one `event: error` frame.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.bridges.messages.errors import status_and_body
from app.bridges.messages.reply import stop_reason, usage
from app.errors import ProxyError
from app.protocol.common import Usage


def event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class MessagesEncoder:
    """A FrameEncoder for one message: tracks the open block so that every block is started and stopped once."""

    __slots__ = ("_blocks", "_id", "_model", "_open", "_text_prefix", "_tools", "stop_reason", "stop_sequence")

    def __init__(self, message_id: str, model: str) -> None:
        self._id, self._model = message_id, model
        self._blocks = 0  # blocks started so far: the next block's index
        self._open: str | None = None  # the kind of the open block
        self._tools: dict[int, int] = {}  # tool call position -> block index
        self._text_prefix = b""
        self.stop_reason = "end_turn"
        self.stop_sequence: str | None = None

    def role(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event("message_start", {"type": "message_start", "message": message})

    def content(self, text: str) -> bytes:
        opening = b"" if self._open == "text" else self._start("text", {"type": "text", "text": ""})
        if not opening:
            return self._text_prefix + orjson.dumps(text) + b"}}\n\n"  # the per-token path: one dumps
        return opening + self._delta({"type": "text_delta", "text": text})

    def reasoning(self, text: str) -> bytes:
        opening = b""
        if self._open != "thinking":
            opening = self._start("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        return opening + self._delta({"type": "thinking_delta", "thinking": text})

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        opening = self._start("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}})
        self._tools[position] = self._blocks - 1
        return opening

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        index = self._tools.get(position, self._blocks - 1)
        delta = {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": arguments},
        }
        return event("content_block_delta", delta)

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        self.stop_reason = stop_reason(reason, stop_sequence)
        self.stop_sequence = stop_sequence
        return self._stop()

    def usage(self, usage: Usage) -> bytes:
        return b""  # the ending reports usage in message_delta

    # -- blocks --------------------------------------------------------------------------------------------
    def _start(self, kind: str, block: dict[str, Any]) -> bytes:
        closing = self._stop()
        index = self._blocks
        self._blocks += 1
        self._open = kind
        if kind == "text":
            self._text_prefix = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                b'"delta":{"type":"text_delta","text":' % index
            )
        start = {"type": "content_block_start", "index": index, "content_block": block}
        return closing + event("content_block_start", start)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": self._blocks - 1, "delta": delta})

    def _stop(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})


class MessagesEnding:
    """message_delta (the stop reason and usage) and message_stop; or one error event."""

    __slots__ = ("_encoder",)
    keepalive = b'event: ping\ndata: {"type":"ping"}\n\n'  # Anthropic's own keep-alive

    def __init__(self, encoder: MessagesEncoder) -> None:
        self._encoder = encoder

    async def completed(self, usage: Usage | None) -> None:
        return None

    def closing(self, total: Usage | None) -> bytes:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._encoder.stop_reason, "stop_sequence": self._encoder.stop_sequence},
            "usage": usage(total),
        }
        return event("message_delta", delta) + event("message_stop", {"type": "message_stop"})

    def failure(self, error: ProxyError) -> bytes:
        _, body = status_and_body(error, error.message)
        return event("error", body)
