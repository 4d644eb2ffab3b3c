"""Circuit breakers per upstream route and model: after repeated failures, fail fast for a cooldown.

closed --threshold consecutive failures--> open --cooldown--> half-open (one probe) --success--> closed
                                             ^------------------------ failure ---------------/

In pass-through mode every tenant (Cloudflare token) has breakers of its own: what one tenant's account
suffers must not make the proxy refuse anyone else. Which failures count is the caller's decision
(`app.pipeline.upstream_call`): only those that say something about the upstream's health.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from app.errors import Unavailable


class CircuitOpen(Unavailable):
    default_code = "circuit_open"
    retryable_by_default = True  # another model (a fallback) may serve


OnChange = Callable[[str, str, str], None]  # (upstream, model id, new state: closed, open, half_open)


def _unobserved(upstream: str, model_id: str, state: str) -> None:
    return None


class CircuitBreaker:
    __slots__ = (
        "_clock",
        "_cooldown",
        "_failures",
        "_on_change",
        "_opened_at",
        "_probing",
        "_threshold",
        "key",
        "name",
    )

    def __init__(
        self,
        name: str,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float],
        on_change: OnChange = _unobserved,
        key: tuple[str, str] = ("", ""),
    ) -> None:
        self.name = name
        self.key = key  # (upstream, model id): what observers are told, never the tenant
        self._on_change = on_change
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def check(self) -> None:
        """Raise CircuitOpen while the breaker is open; let exactly one probe through after the cooldown."""
        if self._opened_at is None:
            return
        remaining = self._opened_at + self._cooldown - self._clock()
        if remaining > 0 or self._probing:
            wait = max(1, int(remaining + 0.999))
            raise CircuitOpen(
                f"{self.name} failed repeatedly upstream; new requests fail fast for {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        self._probing = True
        self._on_change(*self.key, "half_open")

    def abandon(self) -> None:
        """An attempt ended without a verdict (the client left): a probe in flight must not stay so forever."""
        self._probing = False

    def success(self) -> None:
        if self._opened_at is not None:
            self._on_change(*self.key, "closed")
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            if self._opened_at is None or self._probing:
                self._on_change(*self.key, "open")
            self._opened_at = self._clock()
            self._probing = False

    @property
    def pristine(self) -> bool:
        """Nothing to remember: a new breaker would behave the same."""
        return self._failures == 0 and self._opened_at is None and not self._probing


class Breaker(Protocol):
    """What an upstream call asks of a breaker (a shared one, e.g. on Redis, can stand in)."""

    def check(self) -> None: ...

    def abandon(self) -> None: ...

    def success(self) -> None: ...

    def failure(self) -> None: ...


class BreakerBoard(Protocol):
    def get(self, upstream: str, model_id: str, tenant: str = "") -> Breaker: ...


class Breakers:
    """The in-process BreakerBoard."""

    MAX_KEPT = 10_000  # tenants x models; past this, breakers with nothing to remember are forgotten

    def __init__(
        self,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: OnChange = _unobserved,
    ) -> None:
        self._on_change = on_change
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._breakers: dict[tuple[str, str, str], CircuitBreaker] = {}

    def get(self, upstream: str, model_id: str, tenant: str = "") -> CircuitBreaker:
        """`tenant` is empty with the server's own token, else an opaque id of the caller's token."""
        key = (tenant, upstream, model_id)
        breaker = self._breakers.get(key)
        if breaker is None:
            if len(self._breakers) >= self.MAX_KEPT:
                self._forget()
            name = model_id if upstream == "native" else f"{model_id} ({upstream} route)"
            breaker = CircuitBreaker(
                name, self._threshold, self._cooldown, self._clock, self._on_change, (upstream, model_id)
            )
            self._breakers[key] = breaker
        return breaker

    def __len__(self) -> int:
        return len(self._breakers)

    def _forget(self) -> None:
        kept = {key: breaker for key, breaker in self._breakers.items() if not breaker.pristine}
        if len(kept) >= self.MAX_KEPT // 2:  # a flood of failing tenants: the oldest go first
            kept = dict(list(kept.items())[-(self.MAX_KEPT // 2) :])
        self._breakers = kept
