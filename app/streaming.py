"""OpenAI stream output: `chat.completion.chunk` frames built straight as bytes, the error frame, `[DONE]`.

The relay writes one frame per upstream token, so a content frame is two cached byte strings around one
`orjson.dumps` of the text: no dict, no pydantic object per token.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.errors import ProxyError
from app.protocol.chat import ChatCompletion
from app.protocol.common import Usage

DONE_FRAME = b"data: [DONE]\n\n"


def frame(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_frame(error: ProxyError) -> bytes:
    """The in-band failure report: the `openai` SDK raises `APIError` with this message."""
    return frame(error.body())


class ChunkEncoder:
    """Frames of one chat completion stream: one id, one `created`, the model as the client named it."""

    __slots__ = ("_content_prefix", "_head", "_reasoning_prefix")

    _CHOICE_TAIL = b'},"logprobs":null,"finish_reason":null}]}\n\n'

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        head = orjson.dumps(
            {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        )[:-1]  # open object: the choices are appended per frame
        self._head = b"data: " + head
        self._content_prefix = self._head + b',"choices":[{"index":0,"delta":{"content":'
        self._reasoning_prefix = self._head + b',"choices":[{"index":0,"delta":{"reasoning_content":'

    def role(self) -> bytes:
        return self._head + b',"choices":[{"index":0,"delta":{"role":"assistant","content":""' + self._CHOICE_TAIL

    def content(self, text: str) -> bytes:
        return self._content_prefix + orjson.dumps(text) + self._CHOICE_TAIL

    def reasoning(self, text: str) -> bytes:
        return self._reasoning_prefix + orjson.dumps(text) + self._CHOICE_TAIL

    def finish(self, reason: str) -> bytes:
        return (
            self._head
            + b',"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":'
            + orjson.dumps(reason)
            + b"}]}\n\n"
        )

    def usage(self, usage: Usage) -> bytes:
        return self._head + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"


def completion_as_stream(completion: ChatCompletion, encoder: ChunkEncoder, include_usage: bool) -> bytes:
    """A whole stream for an upstream that answered a stream request with one JSON reply."""
    choice = completion["choices"][0]
    message: dict[str, Any] = dict(choice["message"])
    out = encoder.role()
    if message.get("reasoning_content"):
        out += encoder.reasoning(message["reasoning_content"])
    if message.get("content"):
        out += encoder.content(message["content"])
    out += encoder.finish(choice["finish_reason"])
    usage = completion.get("usage")
    if include_usage and usage is not None:
        out += encoder.usage(usage)
    return out + DONE_FRAME
