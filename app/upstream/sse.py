"""Incremental decoder of an upstream `text/event-stream` body into event payloads.

Follows the WHATWG rules that matter for Workers AI: lines end in LF, CRLF or a lone CR (a CR at the end
of a read may be the first half of a CRLF, so it waits for the next read); `data:` lines of one event
are joined with LF; comments and other fields are skipped; a blank line dispatches the event. Reads may
split the byte stream anywhere, even inside a multi-byte character: only whole lines are decoded.

Work is linear in the input whatever the upstream sends: an unfinished line is kept as the pieces it came
in and joined once, when its end arrives; complete lines of an unfinished event are taken as they come.
One event (its data plus the line being read) may not exceed `max_event_bytes`.
"""

from __future__ import annotations

from app.errors import UpstreamError

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024


class EventTooLarge(UpstreamError):
    retryable_by_default = False


class SSEDecoder:
    __slots__ = ("_data", "_data_size", "_held_cr", "_limit", "_partial", "_partial_size")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._limit = max_event_bytes
        self._partial: list[bytes] = []  # the unfinished last line, in the pieces it arrived in
        self._partial_size = 0
        self._data: list[bytes] = []  # `data` values of the event being read
        self._data_size = 0
        self._held_cr = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the `data` payloads of every event completed by this chunk."""
        if self._held_cr:
            chunk = b"\r" + chunk
            self._held_cr = False
        if b"\n" not in chunk and b"\r" not in chunk:
            self._hold(chunk)
            return []
        if self._partial:
            chunk = b"".join(self._partial) + chunk
            self._partial.clear()
            self._partial_size = 0
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._held_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not self._data:
            events = self._whole_events(chunk)
            if events is not None:
                return events
        return self._lines(chunk)

    def flush(self) -> list[bytes]:
        """At end of body: a last event that lacked its blank line still counts."""
        rest = b"".join(self._partial)
        self._partial.clear()
        self._partial_size = 0
        self._held_cr = False
        events: list[bytes] = []
        for line in rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            self._take_line(line, events)
        self._take_line(b"", events)
        return events

    def _whole_events(self, chunk: bytes) -> list[bytes] | None:
        """The usual case, LF line ends and no event in progress: whole events are the blocks between blank
        lines, and usually every one is a single `data: ` line (checked for the whole read at once, then
        sliced). None when the read is not of that shape."""
        *blocks, rest = chunk.split(b"\n\n")
        if not blocks:
            return None
        consumed = len(chunk) - len(rest)
        if chunk.count(b"\n", 0, consumed) != 2 * len(blocks) or not all(b.startswith(b"data: ") for b in blocks):
            return None
        if consumed > self._limit and any(len(block) - 6 > self._limit for block in blocks):
            raise self._too_large()
        if rest:
            self._lines(rest)  # the start of the next event: no blank line in it, so no event completes
        return [block[6:] for block in blocks]

    def _lines(self, buffer: bytes) -> list[bytes]:
        *lines, rest = buffer.split(b"\n")
        events: list[bytes] = []
        for line in lines:
            self._take_line(line, events)
        if rest:
            self._hold(rest)
        return events

    def _hold(self, piece: bytes) -> None:
        if piece:
            self._partial.append(piece)
            self._partial_size += len(piece)
            if self._partial_size + self._data_size > self._limit:
                raise self._too_large()

    def _take_line(self, line: bytes, events: list[bytes]) -> None:
        if not line:
            if self._data:
                events.append(self._data[0] if len(self._data) == 1 else b"\n".join(self._data))
                self._data = []
                self._data_size = 0
            return
        if line.startswith(b"data:"):
            value = line[5:]
            value = value[1:] if value.startswith(b" ") else value
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self._limit:
                raise self._too_large()
        # comments (":"), event:, id:, retry: and unknown fields carry nothing the relay needs

    def _too_large(self) -> EventTooLarge:
        self._partial.clear()
        self._data = []
        return EventTooLarge(
            f"Workers AI sent a stream event larger than {self._limit} bytes (PROXY_MAX_STREAM_EVENT_BYTES)."
        )
