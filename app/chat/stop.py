"""Stop sequences enforced by the proxy, for models that do not take `stop` themselves."""

from __future__ import annotations

from app.chat.markers import first_marker, held_suffix


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, str | None]:
    """The text up to the first stop sequence, and the sequence found (None when none was)."""
    position, marker = first_marker(text, stops)
    return (text[:position], marker) if position >= 0 else (text, None)


class StopScanner:
    """Streams text through, holding back an end that might be the start of a stop sequence."""

    __slots__ = ("_held", "_stops", "matched", "sequence")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._held = ""
        self.matched = False
        self.sequence: str | None = None  # the stop sequence that matched

    def feed(self, text: str) -> str:
        if self.matched:
            return ""
        text = self._held + text
        position, marker = first_marker(text, self._stops)
        if position >= 0:
            self.matched, self.sequence = True, marker
            self._held = ""
            return text[:position]
        keep = held_suffix(text, self._stops)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
