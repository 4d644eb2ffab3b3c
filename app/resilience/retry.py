"""Retries: exponential backoff with full jitter, at least any Retry-After, bounded in count and time."""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.errors import ProxyError

MAX_DELAY = 30.0  # no single wait is longer, whatever the backoff says


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    base_delay: float

    def delay(self, attempt: int, error: ProxyError) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt 0 was the first try)."""
        backoff = random.uniform(0.0, min(MAX_DELAY, self.base_delay * 2**attempt))
        retry_after = error.retry_after
        return min(MAX_DELAY, max(backoff, retry_after)) if retry_after is not None else backoff

    def should_retry(self, attempt: int, error: ProxyError, wait: float, time_left: float) -> bool:
        if not error.retryable or attempt >= self.max_retries:
            return False
        if error.retry_after is not None and error.retry_after > MAX_DELAY:
            return False  # the upstream asks for a longer pause than a request should hang for
        return wait < time_left
