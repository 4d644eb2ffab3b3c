"""ThinkSplitter: reasoning in `<think>` tags split from the answer however the text is cut."""

from __future__ import annotations

import pytest

from app.chat.reasoning import ThinkSplitter, split_think
from tests.chat.pieces import cuts


def run(pieces: list[str], implicit: bool) -> tuple[str, str]:
    splitter = ThinkSplitter(implicit)
    reasoning = answer = ""
    for piece in pieces:
        r, a = splitter.feed(piece)
        reasoning, answer = reasoning + r, answer + a
    r, a = splitter.flush()
    return reasoning + r, answer + a


CASES = [
    ("<think>weigh it</think>\n\nThe answer.", False, ("weigh it", "The answer.")),
    ("  <think>a < b</think>Yes", False, ("a < b", "Yes")),
    ("No reasoning here.", False, ("", "No reasoning here.")),
    ("implicit thought</think>Answer", True, ("implicit thought", "Answer")),
    ("<think>never closed", False, ("never closed", "")),
    ("<thin", False, ("", "<thin")),  # a partial marker that never completes is answer text
]


@pytest.mark.parametrize(("text", "implicit", "expected"), CASES)
def test_any_cut_gives_the_same_split(text: str, implicit: bool, expected: tuple[str, str]) -> None:
    for name, pieces in cuts(text).items():
        assert run(pieces, implicit) == expected, name


def test_whole_replies_split_the_same_way() -> None:
    assert split_think("<think>x</think>y", implicit=False) == ("x", "y", False)
    reasoning, answer, left_open = split_think("<think>still thinking", implicit=False)
    assert (reasoning, answer, left_open) == ("still thinking", "", True)


def test_settled_once_only_answer_text_can_follow() -> None:
    splitter = ThinkSplitter(implicit=False)
    splitter.feed("<think>a</think>")
    assert not splitter.settled
    splitter.feed("answer")
    assert splitter.settled
