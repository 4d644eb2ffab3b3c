"""The identity of one completion: every chunk of a stream repeats it."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompletionIds:
    completion_id: str
    created: int
    model: str  # as the client named it
    include_usage: bool = False

    @property
    def head(self) -> tuple[str, int, str]:
        """What every chunk repeats: id, created, model."""
        return self.completion_id, self.created, self.model

    @classmethod
    def new(cls, model: str, include_usage: bool = False, prefix: str = "chatcmpl-") -> CompletionIds:
        # ids need to be unique, not secret: the PRNG spares a system call per request
        return cls(f"{prefix}{random.getrandbits(96):024x}", int(time.time()), model, include_usage)
