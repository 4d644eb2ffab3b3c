"""Argument repair: what models write as tool arguments -> a JSON object string, or the text as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.chat.tool_calls import arguments_json, openai_tool_call


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ({"city": "Oslo"}, {"city": "Oslo"}),
        ('{"city": "Oslo"}', {"city": "Oslo"}),
        ("{'city': 'Oslo'}", {"city": "Oslo"}),  # Python-style quotes
        ('"{\\"city\\": \\"Oslo\\"}"', {"city": "Oslo"}),  # JSON inside a JSON string
        (None, {}),
        ("", {}),
        (42, {"value": 42}),
    ],
)
def test_arguments_are_repaired_into_a_json_object(written: Any, expected: Any) -> None:
    assert json.loads(arguments_json(written)) == expected


def test_unrepairable_arguments_are_relayed_as_written() -> None:
    assert arguments_json("{city: Oslo") == "{city: Oslo"


def test_a_whole_call_gets_an_id_and_string_arguments() -> None:
    call = openai_tool_call({"name": "get_weather", "arguments": {"city": "Oslo"}})
    assert call is not None and call["type"] == "function" and call["id"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Oslo"}'}
