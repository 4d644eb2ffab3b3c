"""Reading a relayed SSE reply the way the tests need it: its `data:` payloads, its JSON frames, the text of its
deltas. One copy for every test (the SDKs are the oracle for the rest)."""

from __future__ import annotations

import json
from typing import Any


def data_payloads(text: str) -> list[str]:
    """Every `data:` payload in order, `[DONE]` included."""
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def json_frames(text: str) -> list[Any]:
    """The JSON frames (chunks, usage, errors), without `[DONE]`."""
    return [json.loads(payload) for payload in data_payloads(text) if payload.startswith("{")]


def delta_contents(text: str) -> list[str]:
    """The content of every chat chunk's delta, in order ("" for frames without content)."""
    return [
        choice["delta"].get("content") or ""
        for frame in json_frames(text)
        for choice in frame.get("choices") or []
        if "delta" in choice
    ]
