"""Prometheus metrics from observer events (`GET /metrics`).

Labels are bounded: endpoints and outcomes are fixed sets, models are those the proxy knows (the catalogue,
aliases, the config) with every other name counted as `other`, status codes and Workers AI error codes are
numbers. No label ever holds a secret, a prompt or a string the client chose freely. Children of labelled
metrics are cached: `labels()` takes a lock and builds a tuple on every call.

With several worker processes (`--workers`), prometheus-client's multiprocess mode is used: the console script
sets PROMETHEUS_MULTIPROC_DIR before the workers start, and the scrape adds up every worker's files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.exchange import Exchange
from app.observe.observer import Attempt

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
BREAKER_STATES = {"closed": 0, "open": 1, "half_open": 2}
OTHER = "other"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The observer that counts. `is_known(model)` bounds the model label."""

    def __init__(self, is_known: Callable[[str], bool], registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series: noise in every scrape
        self.registry = registry or CollectorRegistry()
        self._is_known = is_known
        r = self.registry
        self.requests = Counter(
            "proxy_requests",
            "Requests by endpoint, model served and status",
            ["endpoint", "model", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "proxy_request_duration_seconds",
            "Request duration, to the end of the stream for streams",
            ["endpoint", "model"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "proxy_time_to_first_token_seconds",
            "Time to the first frame of a stream",
            ["endpoint", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "proxy_tokens",
            "Tokens by type: input, output, cached, reasoning",
            ["endpoint", "model", "type"],
            registry=r,
        )
        self.attempts = Counter(
            "proxy_upstream_attempts",
            "Upstream attempts by outcome and Workers AI error code",
            ["model", "outcome", "code"],
            registry=r,
        )
        self.retries = Counter("proxy_retries", "Upstream attempts that were retried", ["model"], registry=r)
        self.fallbacks = Counter("proxy_fallbacks", "Hand-overs to a fallback model", ["model", "fallback"], registry=r)
        self.breakers = Gauge(
            "proxy_breaker_state",
            "Circuit breaker state: 0 closed, 1 open, 2 half-open",
            ["model", "upstream"],
            registry=r,
            multiprocess_mode="max",
        )
        self.in_flight = Gauge(
            "proxy_in_flight_requests", "Requests being served", ["endpoint"], registry=r, multiprocess_mode="livesum"
        )
        self.streams = Gauge("proxy_open_streams", "Streams being relayed", registry=r, multiprocess_mode="livesum")
        self.disconnects = Counter(
            "proxy_client_disconnects", "Requests the client left before the end", ["endpoint"], registry=r
        )
        self.drain_aborts = Counter("proxy_drain_aborted_streams", "Streams ended by the shutdown deadline", registry=r)
        self._children: dict[tuple[Any, ...], Any] = {}

    # -- the observer ---------------------------------------------------------------------------------
    def request_started(self, exchange: Exchange) -> None:
        self._child(self.in_flight, exchange.endpoint).inc()

    def request_finished(self, exchange: Exchange) -> None:
        endpoint = exchange.endpoint
        model = self.model_label(exchange.model_served)
        self._child(self.in_flight, endpoint).dec()
        self._child(self.requests, endpoint, model, _status(exchange.status)).inc()
        if exchange.duration is not None:
            self._child(self.duration, endpoint, model).observe(exchange.duration)
        if exchange.relayed:
            self.streams.dec()
        if exchange.first_token is not None:
            self._child(self.ttft, endpoint, model).observe(exchange.first_token - exchange.started)
        if exchange.outcome == "disconnected":
            self._child(self.disconnects, endpoint).inc()
        usage = exchange.usage
        if usage:
            self._child(self.tokens, endpoint, model, "input").inc(usage.get("prompt_tokens", 0))
            self._child(self.tokens, endpoint, model, "output").inc(usage.get("completion_tokens", 0))
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            if cached:
                self._child(self.tokens, endpoint, model, "cached").inc(cached)
            reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
            if reasoning:
                self._child(self.tokens, endpoint, model, "reasoning").inc(reasoning)

    def stream_opened(self, exchange: Exchange) -> None:
        self.streams.inc()

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        model = self.model_label(exchange.model_served)
        code = str(attempt.upstream_code) if attempt.upstream_code is not None else "none"
        self._child(self.attempts, model, attempt.outcome, code).inc()
        if attempt.retry_delay is not None:
            self._child(self.retries, model).inc()

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        self._child(self.fallbacks, self.model_label(failed_model), self.model_label(next_model)).inc()

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        self._child(self.breakers, self.model_label(model_id), upstream).set(BREAKER_STATES.get(state, 0))

    def drain_aborted(self, streams: int) -> None:
        self.drain_aborts.inc(streams)

    # -- helpers --------------------------------------------------------------------------------------
    def model_label(self, model: str | None) -> str:
        if model is None:
            return "none"
        return model if self._is_known(model) else OTHER

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def exposition(self) -> bytes:
        """The text format of every metric; with several workers, of all of them together."""
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
            return generate_latest(registry)
        return generate_latest(self.registry)


def _status(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"
