"""Incremental decoder of an upstream `text/event-stream` body into event payloads.

Follows the WHATWG rules that matter for Workers AI: lines end in LF, CRLF or a lone CR (a CR at the end
of a read may be the first half of a CRLF, so it waits for the next read); `data:` lines of one event
are joined with LF; comments and other fields are skipped; a blank line dispatches the event. Reads may
split the byte stream anywhere, even inside a multi-byte character: only whole lines are decoded.
"""

from __future__ import annotations


class SSEDecoder:
    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the `data` payloads of every event completed by this chunk."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" not in buffer and not self._data:
            return self._feed_lf(buffer)
        held_cr = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                buffer, held_cr = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, rest = buffer.split(b"\n")
        self._buffer = rest + held_cr
        events: list[bytes] = []
        for line in lines:
            self._take_line(line, events)
        return events

    def _feed_lf(self, buffer: bytes) -> list[bytes]:
        """The usual case, LF line ends: whole events are the blocks between blank lines, and usually
        every one is a single `data: ` line (checked for the whole read at once, then sliced)."""
        *blocks, self._buffer = buffer.split(b"\n\n")
        if not blocks:
            return []
        consumed = len(buffer) - len(self._buffer)
        if buffer.count(b"\n", 0, consumed) == 2 * len(blocks) and all(b.startswith(b"data: ") for b in blocks):
            return [block[6:] for block in blocks]
        events: list[bytes] = []
        for block in blocks:
            for line in block.split(b"\n"):
                self._take_line(line, events)
            self._take_line(b"", events)
        return events

    def flush(self) -> list[bytes]:
        """At end of body: a last event that lacked its blank line still counts."""
        events: list[bytes] = []
        for line in self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            self._take_line(line, events)
        self._buffer = b""
        self._take_line(b"", events)
        return events

    def _take_line(self, line: bytes, events: list[bytes]) -> None:
        if not line:
            if self._data:
                events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                self._data = []
            return
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        # comments (":"), event:, id:, retry: and unknown fields carry nothing the relay needs
