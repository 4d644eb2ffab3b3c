"""The circuit breaker's states on a fake clock."""

from __future__ import annotations

import pytest

from app.resilience.breaker import Breakers, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> Breakers:
    breakers = Breakers(threshold=2, cooldown=10, clock=clock)
    breaker = breakers.get("native", "@cf/meta/m")
    breaker.failure()
    breaker.failure()
    with pytest.raises(CircuitOpen) as caught:
        breaker.check()
    assert caught.value.headers["Retry-After"] == "10"
    return breakers


def test_one_probe_after_the_cooldown_then_closed_on_success() -> None:
    clock = Clock()
    breaker = opened(clock).get("native", "@cf/meta/m")
    clock.now = 10.5
    breaker.check()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.check()  # only one at a time
    breaker.success()
    breaker.check()
    breaker.check()


def test_a_failed_probe_opens_it_again() -> None:
    clock = Clock()
    breaker = opened(clock).get("native", "@cf/meta/m")
    clock.now = 10.5
    breaker.check()
    breaker.failure()
    with pytest.raises(CircuitOpen):
        breaker.check()


def test_an_abandoned_probe_lets_the_next_one_through() -> None:
    clock = Clock()
    breaker = opened(clock).get("native", "@cf/meta/m")
    clock.now = 10.5
    breaker.check()
    breaker.abandon()  # e.g. the client went away mid-probe
    breaker.check()


def test_routes_and_models_have_their_own_breakers() -> None:
    clock = Clock()
    breakers = opened(clock)
    breakers.get("openai", "@cf/meta/m").check()
    breakers.get("native", "@cf/meta/other").check()


def test_tenants_have_their_own_breakers() -> None:
    breakers = Breakers(threshold=1, cooldown=10, clock=Clock())
    breakers.get("native", "@cf/meta/m", tenant="a").failure()
    with pytest.raises(CircuitOpen):
        breakers.get("native", "@cf/meta/m", tenant="a").check()
    breakers.get("native", "@cf/meta/m", tenant="b").check()
    breakers.get("native", "@cf/meta/m").check()


def test_a_flood_of_tenants_is_bounded_and_keeps_what_it_must_remember(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Breakers, "MAX_KEPT", 100)
    breakers = Breakers(threshold=1, cooldown=10, clock=Clock())
    breakers.get("native", "@cf/meta/m", tenant="failing").failure()
    for i in range(1000):
        breakers.get("native", "@cf/meta/m", tenant=f"t{i}").success()
    assert len(breakers) <= 100
    with pytest.raises(CircuitOpen):
        breakers.get("native", "@cf/meta/m", tenant="failing").check()
