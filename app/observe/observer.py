"""What an observer hears. Every method is called on the event loop and must return quickly without raising;
`Observers` fans one event out to several and keeps a failing observer from breaking a request."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.exchange import Exchange

log = logging.getLogger("workers_ai_proxy")

AttemptOutcome = Literal["ok", "error", "timeout", "cancelled"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream attempt of a request."""

    number: int  # 0 for the first try, then 1, 2... for retries
    outcome: AttemptOutcome
    duration: float  # seconds, until the reply (or, for a stream, until it opened)
    status: int | None = None  # the HTTP status the proxy maps the failure to
    error_code: str | None = None  # OpenAI-style code of the failure
    upstream_code: int | None = None  # the Workers AI error code, when it gave one
    retry_delay: float | None = None  # the wait before the next attempt, when one follows


class Observer(Protocol):
    def request_started(self, exchange: Exchange) -> None: ...

    def request_finished(self, exchange: Exchange) -> None: ...

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None: ...

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None: ...

    def stream_opened(self, exchange: Exchange) -> None:
        """The reply is a stream; request_finished follows when it ends."""

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        """`state`: closed, open or half_open (a tenant's breakers are not told apart)."""

    def drain_aborted(self, streams: int) -> None: ...


class NullObserver:
    def request_started(self, exchange: Exchange) -> None:
        return None

    def request_finished(self, exchange: Exchange) -> None:
        return None

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        return None

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        return None

    def stream_opened(self, exchange: Exchange) -> None:
        return None

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        return None

    def drain_aborted(self, streams: int) -> None:
        return None


class Observers:
    """Several observers as one; an observer that raises is logged, not allowed to fail the request. The hot
    events (a request's start and end, its attempts) call each observer's bound method directly."""

    __slots__ = ("_attempt", "_finished", "_observers", "_started")

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._observers = tuple(observers)
        self._started = tuple(o.request_started for o in self._observers)
        self._finished = tuple(o.request_finished for o in self._observers)
        self._attempt = tuple(o.upstream_attempt for o in self._observers)

    def request_started(self, exchange: Exchange) -> None:
        for method in self._started:
            try:
                method(exchange)
            except Exception:
                _failed(method)

    def request_finished(self, exchange: Exchange) -> None:
        for method in self._finished:
            try:
                method(exchange)
            except Exception:
                _failed(method)

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        for method in self._attempt:
            try:
                method(exchange, attempt)
            except Exception:
                _failed(method)

    def stream_opened(self, exchange: Exchange) -> None:
        for observer in self._observers:
            _safely(observer.stream_opened, exchange)

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        for observer in self._observers:
            _safely(observer.fallback_taken, exchange, failed_model, next_model, reason)

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        for observer in self._observers:
            _safely(observer.breaker_changed, upstream, model_id, state)

    def drain_aborted(self, streams: int) -> None:
        for observer in self._observers:
            _safely(observer.drain_aborted, streams)


def _safely(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        _failed(method)


def _failed(method: Callable[..., None]) -> None:
    log.exception("an observer failed on %s", getattr(method, "__qualname__", method))
