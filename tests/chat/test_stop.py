"""StopScanner: text up to the first stop sequence, however the stream cuts it; nothing held back otherwise."""

from __future__ import annotations

import pytest

from app.chat.stop import StopScanner, cut_at_stop
from tests.chat.pieces import cuts


def run(pieces: list[str], stops: tuple[str, ...]) -> tuple[str, str | None]:
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(piece) for piece in pieces)
    if not scanner.matched:
        out += scanner.flush()
    return out, scanner.sequence


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("one two END three", ("END",), ("one two ", "END")),
        ("a\n\nb", ("\n\n", "b"), ("a", "\n\n")),
        ("no stop at all EN", ("END",), ("no stop at all EN", None)),
        ("xxENDyyEND", ("END", "yy"), ("xx", "END")),
    ],
)
def test_any_cut_stops_at_the_first_sequence(
    text: str, stops: tuple[str, ...], expected: tuple[str, str | None]
) -> None:
    for name, pieces in cuts(text).items():
        assert run(pieces, stops) == expected, name
    assert cut_at_stop(text, stops) == expected


def test_nothing_after_a_match_is_written() -> None:
    scanner = StopScanner(("STOP",))
    assert scanner.feed("abSTOPcd") == "ab"
    assert scanner.feed("more") == ""
