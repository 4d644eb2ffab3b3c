"""Tool calls as OpenAI clients expect them: ids, `type`, and `arguments` as a JSON string of an object.

Workers AI returns them flat (`{"name", "arguments": {...}}`), OpenAI-shaped, or written into the text by
models that emit them that way (Hermes `<tool_call>{...}</tool_call>`, Mistral `[TOOL_CALLS][...]`, Llama
`<|python_tag|>` or a bare `{"name", "parameters"}` object). Arguments that arrive single-quoted (Python
literals) or JSON-encoded twice are repaired into one valid JSON object string.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
from typing import Any

import orjson

TOOL_TEXT_MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>")
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_JSON = json.JSONDecoder()
_SHORT_ID = re.compile(r"[A-Za-z0-9]{9}")
_ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def new_tool_call_id() -> str:
    return f"call_{random.getrandbits(96):024x}"


def short_tool_call_id(tool_call_id: str) -> str:
    """The same id, spelled as the 9 alphanumerics Mistral models require (stable across turns)."""
    if _SHORT_ID.fullmatch(tool_call_id):
        return tool_call_id
    number = int.from_bytes(hashlib.blake2b(tool_call_id.encode(), digest_size=8).digest(), "big")
    chars = []
    for _ in range(9):
        number, digit = divmod(number, len(_ALPHANUMERIC))
        chars.append(_ALPHANUMERIC[digit])
    return "".join(chars)


def arguments_json(value: Any) -> str:
    """Arguments as a JSON object string, repairing single quotes and double encoding where possible."""
    if value is None or value == "":
        return "{}"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if not isinstance(value, str):
        return orjson.dumps({"value": value}).decode()
    parsed = _lenient_parse(value)
    if isinstance(parsed, str):  # JSON text inside a JSON string
        parsed = _lenient_parse(parsed)
    if isinstance(parsed, dict):
        return orjson.dumps(parsed).decode()
    return value  # not repairable: relayed as the model wrote it


def _lenient_parse(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def openai_tool_call(raw: Any) -> dict[str, Any] | None:
    """One upstream tool call (flat or OpenAI-shaped) -> the OpenAI shape; None when it names no function."""
    if not isinstance(raw, dict):
        return None
    nested = raw.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else raw
    name = function.get("name")
    if not isinstance(name, str) or not name:
        return None
    arguments = function.get("arguments", function.get("parameters"))
    call_id = raw.get("id")
    return {
        "id": call_id if isinstance(call_id, str) and call_id else new_tool_call_id(),
        "type": "function",
        "function": {"name": name, "arguments": arguments_json(arguments)},
    }


def openai_tool_calls(raw_calls: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_calls, list):
        return []
    return [call for call in (openai_tool_call(raw) for raw in raw_calls) if call is not None]


def tool_calls_in_text(text: str, tool_names: frozenset[str]) -> tuple[list[dict[str, Any]], str]:
    """Tool calls a model wrote into its text, and the text without them; ([], text) when there are none."""
    calls: list[Any] = []
    rest = text
    if "<tool_call>" in text:
        for payload in _TOOL_CALL_BLOCK.findall(text):
            calls.extend(_payload_calls(payload))
        rest = _TOOL_CALL_BLOCK.sub("", text)
    else:
        stripped = text.strip()
        for marker in ("[TOOL_CALLS]", "<|python_tag|>"):
            if stripped.startswith(marker):
                calls, rest = _leading_json_calls(stripped[len(marker) :])
                break
        else:
            if stripped[:1] in ("{", "["):
                candidates, rest = _leading_json_calls(stripped)
                # a bare JSON answer is a tool call only if it names an offered tool
                if candidates and all(_name_of(c) in tool_names for c in candidates) and not rest.strip():
                    calls = candidates
    normalized = openai_tool_calls(calls)
    if not normalized:
        return [], text
    return normalized, rest.strip()


def _leading_json_calls(text: str) -> tuple[list[Any], str]:
    try:
        value, end = _JSON.raw_decode(text.lstrip())
    except ValueError:
        return _payload_calls(text), ""
    return (value if isinstance(value, list) else [value]), text.lstrip()[end:]


def _payload_calls(payload: str) -> list[Any]:
    value = _lenient_parse(payload.strip())
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    return []


def _name_of(call: Any) -> Any:
    if not isinstance(call, dict):
        return None
    function = call.get("function")
    return function.get("name") if isinstance(function, dict) else call.get("name")
