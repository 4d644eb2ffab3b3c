"""Stop sequences enforced by the proxy, for models that do not take `stop` themselves."""

from __future__ import annotations

from app.chat.markers import first_marker, held_suffix


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """The text up to the first stop sequence, and whether one was found."""
    position, _ = first_marker(text, stops)
    return (text[:position], True) if position >= 0 else (text, False)


class StopScanner:
    """Streams text through, holding back an end that might be the start of a stop sequence."""

    __slots__ = ("_held", "_stops", "matched")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._held = ""
        self.matched = False

    def feed(self, text: str) -> str:
        if self.matched:
            return ""
        text = self._held + text
        position, _ = first_marker(text, self._stops)
        if position >= 0:
            self.matched = True
            self._held = ""
            return text[:position]
        keep = held_suffix(text, self._stops)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
