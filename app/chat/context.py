"""The identity of one completion: every chunk of a stream repeats it."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompletionContext:
    completion_id: str
    created: int
    model: str  # as the client named it
    include_usage: bool = False

    @classmethod
    def new(cls, model: str, include_usage: bool = False, prefix: str = "chatcmpl-") -> CompletionContext:
        # ids need to be unique, not secret: the PRNG spares a system call per request
        return cls(f"{prefix}{random.getrandbits(96):024x}", int(time.time()), model, include_usage)
