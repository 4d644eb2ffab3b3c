"""ToolTextWatcher: tool calls written as text (markers, bare JSON) found in a stream; other text relayed at once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.chat.tool_text import ToolTextWatcher
from tests.chat.pieces import cuts

TOOLS = frozenset({"get_weather"})


def run(pieces: list[str]) -> tuple[str, list[dict[str, Any]]]:
    watcher = ToolTextWatcher(TOOLS)
    text = "".join(watcher.feed(piece) for piece in pieces)
    rest, calls = watcher.finish()
    return text + rest, calls


def names_and_arguments(calls: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}',
    ],
)
def test_a_call_written_as_text_is_found_whatever_the_cut(text: str) -> None:
    for name, pieces in cuts(text).items():
        written, calls = run(pieces)
        assert written.strip() == "", name
        assert names_and_arguments(calls) == [("get_weather", {"city": "Oslo"})], name


def test_plain_text_is_relayed_as_it_comes() -> None:
    watcher = ToolTextWatcher(TOOLS)
    assert watcher.feed("Hello ") == "Hello "
    assert watcher.feed("there") == "there"
    assert watcher.finish() == ("", [])


def test_json_that_names_no_offered_tool_stays_text() -> None:
    text = '{"name": "launch_rockets", "arguments": {}}'
    for name, pieces in cuts(text).items():
        assert run(pieces) == (text, []), name
