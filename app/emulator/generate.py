"""Deterministic emulated answers: the same input always gives the same text and vectors."""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

from aiohttp import web

VOCABULARY = (
    "workers ai answers every request at the edge with a model close to the user while the proxy keeps "
    "the openai api unchanged so that tools sdks and scripts work as they are today"
).split()
PADDING = "abcdefghijklmnopqrstuvwxyz0123456789"
DELAY_KEY = web.AppKey("token_delay", float)  # seconds between two emulated stream tokens


def reply_tokens(model: str, prompt: str, limit: int) -> list[str]:
    """Tokens (each with its leading space) of the emulated reply, at most `limit` of them."""
    seed = _seed(model, prompt)
    rng = random.Random(seed)
    excerpt = " ".join(prompt.split()[:8]) or "(empty prompt)"
    head = f"Emulated reply from {model} to: {excerpt}.".split()
    length = len(head) + 8 + seed % 24
    words = head + [rng.choice(VOCABULARY) for _ in range(length - len(head))]
    tokens = [words[0]] + [" " + word for word in words[1:]]
    return tokens[:limit]


def padding(index: int) -> str:
    """The `p` field Workers AI adds to stream events to hide token lengths."""
    return PADDING[: 1 + (index * 7) % len(PADDING)]


def embedding(text: str, dimensions: int) -> list[float]:
    rng = random.Random(_seed("embedding", text))
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 7) for v in vector]


def prompt_text(body: dict[str, Any]) -> str:
    """The text the reply is about: the last user message, or the raw prompt."""
    if isinstance(body.get("prompt"), str):
        return str(body["prompt"])
    messages = body.get("messages") or []
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return f"the tool result {messages[-1].get('content')}"
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def count_prompt_tokens(body: dict[str, Any]) -> int:
    words = 0
    for message in body.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            words += len(message["content"].split()) + 4  # role and template tokens
    if isinstance(body.get("prompt"), str):
        words += len(body["prompt"].split())
    return max(1, words)


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big")


def example_value(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value that satisfies a JSON Schema well enough for emulated tool calls and JSON mode."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 8:
        return "example"
    if "$ref" in schema and isinstance(schema["$ref"], str):
        target: Any = root
        for key in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(key, {}) if isinstance(target, dict) else {}
        return example_value(target, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example_value(schema[key][0], root, depth + 1)
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: example_value(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [example_value(schema.get("items", {}), root, depth + 1)]
    # a whole number even for `number`: tools (Codex's) often read their numbers as integers
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(kind, "example")
