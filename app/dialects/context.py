"""Per-request facts every dialect's reply translation needs."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChatContext:
    completion_id: str
    created: int
    model: str  # as the client named it
    max_tokens: int  # the budget sent upstream: reaching it means finish_reason "length"
    include_usage: bool = False

    @classmethod
    def new(cls, model: str, max_tokens: int, include_usage: bool = False) -> ChatContext:
        # ids need to be unique, not secret: the PRNG spares a system call per request
        return cls(f"chatcmpl-{random.getrandbits(96):024x}", int(time.time()), model, max_tokens, include_usage)
