"""Prefix caching on Workers AI (wire spec 9.7): requests that share a session id go to the same model instance,
whose cache may already hold the start of the prompt (cached input tokens cost less, and come back as
`usage.prompt_tokens_details.cached_tokens`). The id is OpenAI's `prompt_cache_key` when the client sends one,
else a hash of who asks and how the conversation starts, which is what a cached prefix is."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from app.protocol.chat import ChatMessage

HEADER = "x-session-affinity"
SAFE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PREFIX_MESSAGES = 2  # the system prompt and the first user turn: what later turns of a conversation share
PREFIX_CHARS = 4096  # of each: enough to tell conversations apart, bounded work per request


def session_id(cache_key: Any, tenant: str, user: str | None, messages: list[ChatMessage]) -> str:
    if isinstance(cache_key, str) and cache_key:
        return cache_key if SAFE.fullmatch(cache_key) else _digest(cache_key)
    start = [
        (m.role, m.content[:PREFIX_CHARS] if isinstance(m.content, str) else m.content)
        for m in messages[:PREFIX_MESSAGES]
    ]
    return _digest(orjson.dumps([tenant, user or "", start], default=_part))


def prompt_session_id(cache_key: Any, tenant: str, user: str | None, prompt: str) -> str:
    if isinstance(cache_key, str) and cache_key:
        return cache_key if SAFE.fullmatch(cache_key) else _digest(cache_key)
    return _digest(orjson.dumps([tenant, user or "", prompt[:PREFIX_CHARS]]))


def _digest(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _part(part: Any) -> Any:
    return part.model_dump(exclude_none=True) if hasattr(part, "model_dump") else str(part)
