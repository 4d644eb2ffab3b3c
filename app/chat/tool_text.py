"""Tool calls written as text, found while the text streams.

Text that cannot be a tool call is relayed at once. An answer that opens with a tool-call marker, or with
`{`/`[` (a bare JSON call), is held until the end and then parsed; a marker later in the text holds the
rest of it. Only used when the request offered tools.
"""

from __future__ import annotations

from typing import Any

from app.chat.markers import first_marker, held_suffix
from app.chat.tool_calls import TOOL_TEXT_MARKERS, tool_calls_in_text


class ToolTextWatcher:
    __slots__ = ("_captured", "_held", "_state", "_tool_names")

    def __init__(self, tool_names: frozenset[str]) -> None:
        self._tool_names = tool_names
        self._state = "start"  # start -> text | capture
        self._held = ""
        self._captured = ""

    def feed(self, text: str) -> str:
        """Text that is certainly not part of a tool call, to be written now."""
        if self._state == "capture":
            self._captured += text
            return ""
        text = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = text.lstrip()
            if not stripped or any(m.startswith(stripped) and m != stripped for m in TOOL_TEXT_MARKERS):
                self._held = text
                return ""
            if stripped.startswith(TOOL_TEXT_MARKERS) or stripped[0] in "{[":
                self._state, self._captured = "capture", text
                return ""
            self._state = "text"
        position, _ = first_marker(text, TOOL_TEXT_MARKERS)
        if position >= 0:
            self._state, self._captured = "capture", text[position:]
            return text[:position]
        keep = held_suffix(text, TOOL_TEXT_MARKERS)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def finish(self) -> tuple[str, list[dict[str, Any]]]:
        """At the end of the answer: the text still held back, and the tool calls found in it."""
        held, captured = self._held, self._captured
        self._held = self._captured = ""
        if not captured:
            return held, []
        calls, rest = tool_calls_in_text(captured, self._tool_names)
        return (held + rest, calls) if calls else (held + captured, [])
