"""Requests and tokens per minute, per key: checked and reserved in one step before any upstream call, reconciled
to what was really used when the request settles (a stream when it ends, a client that left: what was generated;
a failure: nothing), so that no reservation leaks. A named key's own limits, else PROXY_KEY_RPM / PROXY_KEY_TPM.

Every reply of a limited key carries OpenAI's headers (`x-ratelimit-limit-requests`, `-remaining-`, `-reset-`, and
the same for tokens); over a limit the request is a 429 `rate_limit_exceeded` with `Retry-After`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from app.errors import RateLimited
from app.exchange import Exchange
from app.stores.counters import Counters

WINDOW_SECONDS = 60
HOLD = "rate_limits"  # the exchange's hold: (counter key, window, tokens reserved)


class RateLimits:
    """Both an admission and a settlement hook."""

    __slots__ = ("_clock", "_counters", "_rpm", "_tpm")

    def __init__(self, counters: Counters, rpm: int | None, tpm: int | None, clock: Callable[[], float]) -> None:
        self._counters, self._rpm, self._tpm, self._clock = counters, rpm, tpm, clock

    async def admit(self, exchange: Exchange) -> None:
        identity = exchange.identity
        if identity is None:
            return
        access = identity.access
        rpm = access.rpm if access is not None and access.rpm is not None else self._rpm
        tpm = access.tpm if access is not None and access.tpm is not None else self._tpm
        if rpm is None and tpm is None:
            return
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        reset = _duration((window + 1) * WINDOW_SECONDS - now)
        tokens = exchange.token_estimate if tpm is not None else 0
        key = "key:" + identity.name
        taken = await self._counters.take(key, window, 1, tokens, rpm, tpm)
        headers: dict[str, str] = {}
        if rpm is not None:
            headers["x-ratelimit-limit-requests"] = str(rpm)
            headers["x-ratelimit-remaining-requests"] = str(max(0, rpm - taken.requests))
            headers["x-ratelimit-reset-requests"] = reset
        if tpm is not None:
            headers["x-ratelimit-limit-tokens"] = str(tpm)
            headers["x-ratelimit-remaining-tokens"] = str(max(0, tpm - taken.tokens))
            headers["x-ratelimit-reset-tokens"] = reset
        if not taken.allowed:
            wait = str(max(1, math.ceil((window + 1) * WINDOW_SECONDS - now)))
            raise RateLimited(
                _refusal(identity.name, rpm, tpm, taken.requests, taken.tokens, tokens),
                headers={**headers, "Retry-After": wait},
            )
        exchange.reply_headers.update(headers)
        if tokens:
            exchange.holds[HOLD] = (key, window, tokens)

    async def settle(self, exchange: Exchange) -> None:
        hold = exchange.holds.pop(HOLD, None)
        if hold is None:
            return
        key, window, reserved = hold
        used = exchange.usage["total_tokens"] if exchange.usage is not None else 0
        if used != reserved:
            await self._counters.give_back(key, window, reserved - used)


def _refusal(name: str, rpm: int | None, tpm: int | None, requests: int, tokens: int, asked: int) -> str:
    if rpm is not None and requests + 1 > rpm:
        return f"Rate limit reached for key {name!r} on requests per minute: limit {rpm}, used {requests}."
    if tpm is not None and asked > tpm:
        return (
            f"Request too large for key {name!r} on tokens per minute: limit {tpm}, requested {asked} (the prompt "
            "and the token budget); lower max_tokens."
        )
    return f"Rate limit reached for key {name!r} on tokens per minute: limit {tpm}, used {tokens}, requested {asked}."


def _duration(seconds: float) -> str:
    """OpenAI's spelling of a reset time: `1s`, `6m0s`, `20ms`."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
