"""The Responses API stream as bytes: OpenAI's event sequence, each event with the next `sequence_number`.

response.created and response.in_progress; per output item response.output_item.added, then for a message
content_part.added / output_text.delta... / output_text.done / content_part.done, for reasoning the same with
reasoning_text, for a function call function_call_arguments.delta... / .done; response.output_item.done; and
always one terminal event: response.completed, response.incomplete (the token budget ran out) or
response.failed. The terminal event carries the whole response, output and usage included, as the SDKs want it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from app.bridges.responses.reply import INCOMPLETE, Shell, function_call_item, message_item, new_id, usage
from app.chat.ids import CompletionIds
from app.errors import ProxyError
from app.frames.openai import KEEPALIVE_COMMENT
from app.protocol.common import Usage

_TEXT_PART: dict[str, Any] = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
_REASONING_PART: dict[str, Any] = {"type": "reasoning_text", "text": ""}


class _Call:
    __slots__ = ("arguments", "call_id", "index", "item_id", "name")

    def __init__(self, index: int, item_id: str, call_id: str, name: str) -> None:
        self.index, self.item_id, self.call_id, self.name = index, item_id, call_id, name
        self.arguments: list[str] = []


class ResponsesEncoder:
    """A FrameEncoder for one response. A message or reasoning item stays open until another item starts; function
    calls stay open until the answer finishes (their arguments may arrive interleaved)."""

    __slots__ = (
        "_calls",
        "_delta_prefix",
        "_ids",
        "_open",
        "_open_id",
        "_open_index",
        "_seq",
        "_shell",
        "_texts",
        "finish_reason",
        "output",
    )

    def __init__(self, shell: Shell, ids: CompletionIds) -> None:
        self._shell, self._ids = shell, ids
        self._seq = 0  # the next event's sequence_number
        self.output: list[dict[str, Any]] = []  # the output items so far, each as last announced
        self._open: str | None = None  # "message" or "reasoning": the open item's kind
        self._open_id, self._open_index = "", 0
        self._texts: list[str] = []  # the open item's text so far
        self._delta_prefix = b""
        self._calls: dict[int, _Call] = {}  # tool call position -> its item
        self.finish_reason: str | None = None

    def event(self, payload: dict[str, Any]) -> bytes:
        payload["sequence_number"] = self._seq
        self._seq += 1
        kind: str = payload["type"]
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def role(self) -> bytes:
        if self._seq:
            return b""
        response = orjson.dumps(self._shell.response(self._ids, "in_progress", []))  # once, for both events
        self._seq = 2
        return (
            b'event: response.created\ndata: {"type":"response.created","response":%b,"sequence_number":0}\n\n'
            b'event: response.in_progress\ndata: {"type":"response.in_progress","response":%b,"sequence_number":1}\n\n'
            % (response, response)
        )

    def content(self, text: str) -> bytes:
        if self._open != "message":
            return self._start("message") + self._delta(text)
        self._texts.append(text)  # the per-token path, inlined: one `orjson.dumps` between cached bytes
        seq = self._seq
        self._seq = seq + 1
        return b'%b%b,"sequence_number":%d}\n\n' % (self._delta_prefix, orjson.dumps(text), seq)

    def reasoning(self, text: str) -> bytes:
        opening = b"" if self._open == "reasoning" else self._start("reasoning")
        return opening + self._delta(text)

    def tool_call_start(self, position: int, call_id: str, name: str) -> bytes:
        opening = self.role() + self._close()
        call = _Call(len(self.output), new_id("fc_"), call_id, name)
        self._calls[position] = call
        item = function_call_item(call.item_id, call_id, name, "", "in_progress")
        self.output.append(item)
        return opening + self.event({"type": "response.output_item.added", "output_index": call.index, "item": item})

    def tool_call_arguments(self, position: int, arguments: str) -> bytes:
        call = self._calls.get(position)
        if call is None:
            return b""
        call.arguments.append(arguments)
        delta = {"type": "response.function_call_arguments.delta", "item_id": call.item_id}
        return self.event({**delta, "output_index": call.index, "delta": arguments})

    def finish(self, reason: str, stop_sequence: str | None = None) -> bytes:
        self.finish_reason = reason
        status = "incomplete" if reason in INCOMPLETE else "completed"
        out = self.role()
        if not self.output:
            out += self._start("message")  # an empty answer is still one (empty) message, as a whole reply has
        out += self._close(status)
        for call in self._calls.values():
            arguments = "".join(call.arguments)
            done = {"type": "response.function_call_arguments.done", "item_id": call.item_id, "name": call.name}
            out += self.event({**done, "output_index": call.index, "arguments": arguments})
            item = function_call_item(call.item_id, call.call_id, call.name, arguments)
            self.output[call.index] = item
            out += self.event({"type": "response.output_item.done", "output_index": call.index, "item": item})
        self._calls.clear()
        return out

    def usage(self, usage: Usage) -> bytes:
        return b""  # the terminal event carries it

    # -- the whole response --------------------------------------------------------------------------
    def final(self, total: Usage | None) -> dict[str, Any]:
        incomplete = INCOMPLETE.get(self.finish_reason or "")
        status = "incomplete" if incomplete else "completed"
        return self._shell.response(self._ids, status, self.output, usage(total), incomplete)

    def failed(self, error: ProxyError) -> dict[str, Any]:
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
        return self._shell.response(
            self._ids, "failed", self.output, None, error={"code": code, "message": error.message}
        )

    # -- items ---------------------------------------------------------------------------------------
    def _start(self, kind: str) -> bytes:
        opening = self.role() + self._close()
        index = len(self.output)
        item_id = new_id("msg_" if kind == "message" else "rs_")
        item: dict[str, Any]
        if kind == "message":
            item = {**message_item(item_id, "", "in_progress"), "content": []}
            part, delta_type = _TEXT_PART, b"response.output_text.delta"
            logprobs = b'"logprobs":[],'
        else:
            item = {"id": item_id, "type": "reasoning", "summary": [], "content": [], "status": "in_progress"}
            part, delta_type, logprobs = _REASONING_PART, b"response.reasoning_text.delta", b""
        self.output.append(item)
        self._open, self._open_id, self._open_index, self._texts = kind, item_id, index, []
        self._delta_prefix = (
            b'event: %s\ndata: {"type":"%s","item_id":"%s","output_index":%d,"content_index":0,%s"delta":'
            % (delta_type, delta_type, item_id.encode(), index, logprobs)
        )
        added = self.event({"type": "response.output_item.added", "output_index": index, "item": item})
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        return opening + added + self.event({"type": "response.content_part.added", **where, "part": dict(part)})

    def _delta(self, text: str) -> bytes:
        """A delta of the open item: one `orjson.dumps` of the text between cached bytes."""
        self._texts.append(text)
        seq = self._seq
        self._seq = seq + 1
        return b'%b%b,"sequence_number":%d}\n\n' % (self._delta_prefix, orjson.dumps(text), seq)

    def _close(self, status: str = "completed") -> bytes:
        if self._open is None:
            return b""
        kind, item_id, index = self._open, self._open_id, self._open_index
        self._open = None
        text = "".join(self._texts)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        if kind == "message":
            done = self.event({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
            item = message_item(item_id, text, status)
        else:
            done = self.event({"type": "response.reasoning_text.done", **where, "text": text})
            item = self._shell.reasoning_item(item_id, text)
        self.output[index] = item
        part = self.event({"type": "response.content_part.done", **where, "part": item["content"][0]})
        return done + part + self.event({"type": "response.output_item.done", "output_index": index, "item": item})


class ResponsesEnding:
    """The terminal event: response.completed or response.incomplete with the whole response, or on a failure
    response.failed. `on_done` hears the finished response before its terminal event leaves (the store)."""

    __slots__ = ("_encoder", "_final", "_on_done")
    keepalive = KEEPALIVE_COMMENT

    def __init__(
        self, encoder: ResponsesEncoder, on_done: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    ) -> None:
        self._encoder, self._on_done = encoder, on_done
        self._final: dict[str, Any] | None = None

    async def completed(self, usage: Usage | None) -> None:
        self._final = self._encoder.final(usage)
        if self._on_done is not None:
            await self._on_done(self._final)

    def closing(self, usage: Usage | None) -> bytes:
        final = self._final or self._encoder.final(usage)
        kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
        return self._encoder.role() + self._encoder.event({"type": kind, "response": final})

    def failure(self, error: ProxyError) -> bytes:
        encoder = self._encoder
        return encoder.role() + encoder.event({"type": "response.failed", "response": encoder.failed(error)})
