"""OpenAI stream output: chunk frames built straight as bytes, the error frame, `[DONE]`.

The relay writes one frame per upstream token, so a content frame is two cached byte strings around one
`orjson.dumps` of the text: no dict, no pydantic object per token.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from app.errors import ProxyError
from app.protocol.common import Usage

DONE_FRAME = b"data: [DONE]\n\n"
KEEPALIVE_COMMENT = b": keep-alive\n\n"  # an SSE comment: every client skips it


def frame(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def error_frame(error: ProxyError) -> bytes:
    """The in-band failure report: the `openai` SDK raises `APIError` with this message."""
    return frame(error.body())


class FrameEncoder(Protocol):
    """The frames of one choice of one streamed completion."""

    def role(self) -> bytes: ...

    def content(self, text: str) -> bytes: ...

    def reasoning(self, text: str) -> bytes: ...

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes: ...

    def tool_call_arguments(self, position: int, arguments: str) -> bytes: ...

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        """The choice's last frame; `stop_sequence`: the one the proxy cut the answer at, if it did."""

    def usage(self, usage: Usage) -> bytes: ...


class StreamEnding(Protocol):
    """How a protocol's stream ends: after the last choice, or with a failure once frames have left; and what
    it writes during a silence."""

    keepalive: bytes

    async def completed(self, usage: Usage | None) -> None:
        """The answer is whole: work due before the closing frames leave (the Responses store)."""

    def closing(self, usage: Usage | None) -> bytes: ...

    def failure(self, error: ProxyError) -> bytes: ...


class OpenAIEnding:
    """Chat and text completions: the usage chunk when asked (`stream_options.include_usage`), then `[DONE]`;
    a failure is one error frame, then `[DONE]`."""

    __slots__ = ("_usage",)
    keepalive = KEEPALIVE_COMMENT

    def __init__(self, usage: FrameEncoder | None = None) -> None:
        self._usage = usage

    async def completed(self, usage: Usage | None) -> None:
        return None

    def closing(self, usage: Usage | None) -> bytes:
        if self._usage is None or usage is None:
            return DONE_FRAME
        return self._usage.usage(usage) + DONE_FRAME

    def failure(self, error: ProxyError) -> bytes:
        return error_frame(error) + DONE_FRAME


def _head(completion_id: str, obj: str, created: int, model: str) -> bytes:
    # an open JSON object: each frame appends its choices and closes it
    return b"data: " + orjson.dumps({"id": completion_id, "object": obj, "created": created, "model": model})[:-1]


def _end(include_usage: bool) -> bytes:
    """How a frame closes: with `stream_options.include_usage`, every chunk before the usage chunk says
    `"usage": null`, as OpenAI's do."""
    return b',"usage":null}\n\n' if include_usage else b"}\n\n"


class ChunkEncoder:
    """`chat.completion.chunk` frames: one id, one `created`, the model as the client named it."""

    __slots__ = ("_choice", "_content_prefix", "_end", "_head", "_reasoning_prefix", "_tail", "_tools_prefix")

    def __init__(
        self, completion_id: str, created: int, model: str, index: int = 0, *, include_usage: bool = False
    ) -> None:
        self._head = _head(completion_id, "chat.completion.chunk", created, model)
        self._choice = self._head + b',"choices":[{"index":%d,"delta":{' % index
        self._content_prefix = self._choice + b'"content":'
        self._reasoning_prefix = self._choice + b'"reasoning_content":'
        self._tools_prefix = self._choice + b'"tool_calls":'
        self._end = _end(include_usage)
        self._tail = b'},"logprobs":null,"finish_reason":null}]' + self._end

    def role(self) -> bytes:
        return self._choice + b'"role":"assistant","content":""' + self._tail

    def content(self, text: str) -> bytes:
        return self._content_prefix + orjson.dumps(text) + self._tail

    def reasoning(self, text: str) -> bytes:
        return self._reasoning_prefix + orjson.dumps(text) + self._tail

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        call = {"index": position, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        return self._tools_prefix + orjson.dumps([call]) + self._tail

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        return (
            self._tools_prefix + orjson.dumps([{"index": position, "function": {"arguments": arguments}}]) + self._tail
        )

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        return self._choice + b'},"logprobs":null,"finish_reason":' + orjson.dumps(reason) + b"}]" + self._end

    def delta(self, fields: dict[str, Any]) -> bytes:
        """A frame whose delta holds `fields` (rarer shapes, e.g. a legacy `function_call`)."""
        return self._choice + orjson.dumps(fields)[1:-1] + self._tail

    def usage(self, usage: Usage) -> bytes:
        return self._head + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"


class CompletionChunkEncoder:
    """Legacy `text_completion` stream frames; reasoning and tool calls have no place in them."""

    __slots__ = ("_end", "_head", "_text_prefix", "_text_tail")

    def __init__(
        self, completion_id: str, created: int, model: str, index: int = 0, *, include_usage: bool = False
    ) -> None:
        self._head = _head(completion_id, "text_completion", created, model)
        self._text_prefix = self._head + b',"choices":[{"text":'
        self._text_tail = b',"index":%d,"logprobs":null,"finish_reason":' % index
        self._end = _end(include_usage)

    def role(self) -> bytes:
        return b""

    def content(self, text: str) -> bytes:
        return self._text_prefix + orjson.dumps(text) + self._text_tail + b"null}]" + self._end

    def reasoning(self, text: str) -> bytes:
        return b""

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        return b""

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        return b""

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        return self._text_prefix + b'""' + self._text_tail + orjson.dumps(reason) + b"}]" + self._end

    def usage(self, usage: Usage) -> bytes:
        return self._head + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"
