"""What both bridges do to the chat turns they build: chat templates want one system message, first, and roles
that alternate, so consecutive user turns become one (tool results stay apart)."""

from __future__ import annotations

from typing import Any


def merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        previous = out[-1] if out else None
        if previous is not None and previous["role"] == message["role"] == "user":
            out[-1] = {"role": "user", "content": joined(previous["content"], message["content"])}
        else:
            out.append(message)
    return out


def joined(first: Any, second: Any) -> Any:
    """Two user contents as one: text joined by a blank line, or one list of parts."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}\n\n{second}" if first and second else first or second
    parts = [p for c in (first, second) for p in ([{"type": "text", "text": c}] if isinstance(c, str) else c)]
    return [p for p in parts if p.get("type") != "text" or p.get("text")]
