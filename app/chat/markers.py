"""Finding markers in text that arrives in pieces: what may be written now, what must wait."""

from __future__ import annotations

from collections.abc import Iterable


def held_suffix(text: str, markers: Iterable[str]) -> int:
    """Length of the longest end of `text` that could be the start of one of `markers`."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:size]):
                longest = size
                break
    return longest


def first_marker(text: str, markers: Iterable[str]) -> tuple[int, str]:
    """(position, marker) of the earliest marker in `text`, or (-1, "")."""
    best, found = -1, ""
    for marker in markers:
        position = text.find(marker)
        if position >= 0 and (best < 0 or position < best):
            best, found = position, marker
    return best, found
