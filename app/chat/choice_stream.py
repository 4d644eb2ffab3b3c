"""One choice of a streamed completion: what the model writes, as it writes it, into OpenAI frames.

A dialect's stream translator reads upstream events and calls `content`, `reasoning`, `tool_call` and
`finish`; this applies the output plan (reasoning split, text tool calls, stop sequences) and encodes
frames, which the relay collects with `take`. With nothing to apply, text goes straight to the encoder.
"""

from __future__ import annotations

from typing import Any

from app.chat.answer import finish_reason
from app.chat.plan import OutputPlan
from app.chat.reasoning import ThinkSplitter
from app.chat.stop import StopScanner
from app.chat.tool_calls import new_tool_call_id
from app.chat.tool_text import ToolTextWatcher
from app.frames.openai import FrameEncoder
from app.protocol.common import Usage


class ChoiceStream:
    __slots__ = (
        "_calls",
        "_content_written",
        "_encoder",
        "_frames",
        "_opened",
        "_plain",
        "_plan",
        "_positions",
        "_stop",
        "_think",
        "_tokens",
        "_tool_text",
        "finished",
        "usage",
    )

    def __init__(self, encoder: FrameEncoder, plan: OutputPlan) -> None:
        self._encoder = encoder
        self._plan = plan
        self._frames: list[bytes] = []
        self._opened = False
        self._think = ThinkSplitter(plan.think == "implicit") if plan.think is not None else None
        self._tool_text = ToolTextWatcher(plan.tool_names) if plan.tool_names else None
        self._stop = StopScanner(plan.stop) if plan.stop else None
        self._plain = False
        self._replan()
        self._calls: dict[Any, int] = {}  # upstream tool-call index -> our position
        self._positions = 0  # tool calls started so far
        self._tokens = 0  # pieces of output seen: the usage stand-in when the upstream reports none
        self._content_written = False
        self.finished = False
        self.usage: Usage | None = None

    @property
    def pending(self) -> bool:
        return bool(self._frames)

    @property
    def produced(self) -> int:
        """Completion tokens so far: the upstream's count once it gave one, else the pieces seen."""
        return self.usage["completion_tokens"] if self.usage is not None else self._tokens

    @property
    def may_stop(self) -> bool:
        """The proxy enforces stop sequences for this choice (so `stopped` is worth asking)."""
        return self._stop is not None

    @property
    def stopped(self) -> bool:
        """A stop sequence matched: nothing more will be written but the finish."""
        return self._stop is not None and self._stop.matched

    def take(self) -> bytes:
        if not self._frames:
            return b""
        frames, self._frames = self._frames, []
        return frames[0] if len(frames) == 1 else b"".join(frames)

    # -- what the upstream wrote ----------------------------------------------------------------
    def content(self, text: str) -> None:
        self._tokens += 1
        if self._plain and self._opened:  # the per-token path: nothing to apply, frames already opened
            self._frames.append(self._encoder.content(text))
            return
        if self._plain:
            self._emit_content(text)
            return
        if self._think is not None:
            thought, text = self._think.feed(text)
            if thought:
                self._write(self._encoder.reasoning(thought))
            if self._think.settled:
                self._think = None
                self._replan()
        if text:
            self._answer(text)

    def reasoning(self, text: str) -> None:
        self._tokens += 1
        self._write(self._encoder.reasoning(text))

    def tool_call(self, key: Any, call_id: str | None, name: str | None, arguments: str | None) -> None:
        """A tool call or a piece of one. `key` is the upstream's index for calls that arrive in pieces,
        None for a call that arrives whole; pieces without a known call or a name are dropped (some
        upstreams end with an empty "finalization" piece)."""
        position = self._calls.get(key) if key is not None else None
        if position is None:
            if not name:
                return
            position = self._positions
            self._positions += 1
            if key is not None:
                self._calls[key] = position
            self._write(self._encoder.tool_call_start(position, call_id or new_tool_call_id(), name))
        if arguments:
            self._write(self._encoder.tool_call_arguments(position, arguments))

    def finish(self, upstream_reason: Any, usage: Usage | None, stop_sequence: str | None = None) -> None:
        """`stop_sequence`: the one a replayed answer was cut at (the reply cache)."""
        if self.finished:
            return
        unfinished_thinking = False
        if self._think is not None:
            unfinished_thinking = self._think.opened and not self._think.closed
            thought, text = self._think.flush()
            if thought:
                self._write(self._encoder.reasoning(thought))
            self._think = None
            if text:
                self._answer(text)
        if self._tool_text is not None:
            text, calls = self._tool_text.finish()
            self._tool_text = None
            if text:
                self._answer(text)
            for call in calls:
                self.tool_call(None, call["id"], call["function"]["name"], call["function"]["arguments"])
        if self._stop is not None and not self._stop.matched:
            self._emit_content(self._stop.flush())
        self.usage = usage or {"prompt_tokens": 0, "completion_tokens": self._tokens, "total_tokens": self._tokens}
        reason = finish_reason(
            upstream_reason,
            self.usage,
            self._plan.max_tokens,
            tool_calls=self._positions > 0,
            stopped=self.stopped or stop_sequence is not None,
            unfinished_thinking=unfinished_thinking and not self._content_written,
        )
        sequence = self._stop.sequence if self._stop is not None and reason == "stop" else stop_sequence
        self._write(self._encoder.finish(reason, sequence))
        self.finished = True

    # -- internals ---------------------------------------------------------------------------------
    def _answer(self, text: str) -> None:
        if self._tool_text is not None:
            text = self._tool_text.feed(text)
        if text and self._stop is not None:
            text = self._stop.feed(text)
        self._emit_content(text)

    def _emit_content(self, text: str) -> None:
        if text:
            self._content_written = True
            self._write(self._encoder.content(text))

    def _write(self, frame: bytes) -> None:
        if not self._opened:
            self._opened = True
            self._frames.append(self._encoder.role())
        self._frames.append(frame)

    def _replan(self) -> None:
        self._plain = self._think is None and self._tool_text is None and self._stop is None
