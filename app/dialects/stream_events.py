"""Workers AI stream events, on every route, -> calls on a ChoiceStream (which writes the frames).

Two event shapes appear (wire spec, sections 2 and 4), on `/ai/run/{model}` and the OpenAI-compatible routes
alike: legacy `{"response": "tok", "p": "pad"}` events with the cumulative usage on a last
`{"response": "", "usage": {...}}` event, and OpenAI-shaped chunks (`choices[0].delta`). Chunk usage is
incremental on some models and cumulative on a final chunk on others: both are tracked and the larger total
wins. Tool calls come whole (`{"name", "arguments"}`), or in OpenAI-style pieces at the top level or in the
delta. Everything ends at `data: [DONE]`; padding (`p`), empty tokens, empty `tool_calls` lists and repeated
finish frames produce nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.chat.choice_stream import ChoiceStream
from app.chat.tool_calls import arguments_json
from app.dialects.common import content_text, usage_from
from app.errors import UpstreamError
from app.protocol.common import Usage
from app.upstream.cloudflare_errors import error_from_payload


class ChatEventStream:
    __slots__ = ("_chunk_usage", "_content", "_done", "_final_usage", "_finish", "_sink")

    def __init__(self, sink: ChoiceStream) -> None:
        self._sink = sink
        self._content = sink.content  # bound once: called per token
        self._done = False
        self._finish: Any = None
        self._final_usage: Usage | None = None
        self._chunk_usage: Usage | None = None

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes) -> None:
        if self._done:
            return  # a second [DONE] or anything after the first
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            if data.strip() == b"[DONE]":
                self._done = True
                self._sink.finish(self._finish, self._usage())
                return
            raise UpstreamError("Workers AI sent a malformed stream event") from None
        if type(event) is not dict:
            return
        token = event.get("response")
        if type(token) is str and (len(event) == 1 or (len(event) == 2 and "p" in event)):
            # the common legacy event, {"response": "tok", "p": "padding"}: nothing else to look at
            if token:
                self._content(token)
            return
        self._any_event(event)

    def _any_event(self, event: dict[str, Any]) -> None:
        if event.get("finish_reason") and self._finish is None:
            self._finish = event["finish_reason"]
        if isinstance(event.get("tool_calls"), list):
            self._tool_calls(event["tool_calls"])
        if "response" in event:
            usage = event.get("usage")
            if isinstance(usage, dict):
                self._final_usage = usage_from(usage)  # cumulative: the authoritative count
            token = event["response"]
            if token is not None and token != "":
                self._sink.content(token if isinstance(token, str) else content_text(token))
            return
        choices = event.get("choices")
        if isinstance(choices, list):
            self._openai_chunk(choices, event.get("usage"))
        elif event.get("errors") or event.get("error"):
            raise error_from_payload(200, event, {})

    def _openai_chunk(self, choices: list[Any], usage: Any) -> None:
        choice = choices[0] if choices and isinstance(choices[0], dict) else None
        if isinstance(usage, dict):
            if choice is None or choice.get("finish_reason"):
                self._final_usage = usage_from(usage)  # the usage chunk that closes an OpenAI stream
            else:
                self._add_chunk_usage(usage)
        if choice is None:
            return
        if choice.get("finish_reason") and self._finish is None:
            self._finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._sink.reasoning(reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._sink.content(content)
        if isinstance(delta.get("tool_calls"), list):
            self._tool_calls(delta["tool_calls"])

    def _tool_calls(self, calls: list[Any]) -> None:
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            if isinstance(function, dict):  # OpenAI-style: a whole call, or a piece of one keyed by index
                arguments = function.get("arguments")
                self._sink.tool_call(
                    call.get("index"),
                    call.get("id"),
                    function.get("name"),
                    arguments if isinstance(arguments, str) or arguments is None else arguments_json(arguments),
                )
            else:  # flat and whole: {"name", "arguments": {...}}
                arguments = call.get("arguments", call.get("parameters"))
                self._sink.tool_call(None, call.get("id"), call.get("name"), arguments_json(arguments))

    def _usage(self) -> Usage | None:
        final, summed = self._final_usage, self._chunk_usage
        if final is None or summed is None:
            return final or summed
        return final if final["total_tokens"] >= summed["total_tokens"] else summed

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
