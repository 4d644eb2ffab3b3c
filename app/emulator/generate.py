"""Deterministic emulated answers: the same input always gives the same text and vectors."""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

VOCABULARY = (
    "workers ai answers every request at the edge with a model close to the user while the proxy keeps "
    "the openai api unchanged so that tools sdks and scripts work as they are today"
).split()
PADDING = "abcdefghijklmnopqrstuvwxyz0123456789"


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
    for message in reversed(body.get("messages") or []):
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
