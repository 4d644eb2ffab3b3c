"""Prometheus metrics from observer events (`GET /metrics`).

Counting costs a dictionary update: each metric is a dict from label values to a number (a histogram: bucket
counts, sum and count, its bucket found by bisection), and `collect` turns them into Prometheus samples only when
scraped; prometheus-client writes the text format. (Its own metric objects take a lock and walk the buckets on
every update: 8% of a chat request's CPU, measured with bench/ab.sh.)

Labels are bounded: endpoints and outcomes are fixed sets, models are those the proxy knows (the catalogue,
aliases, the config) with every other name counted as `other`, status codes and Workers AI error codes are
numbers. No label ever holds a secret, a prompt or a string the client chose freely.

With several worker processes (`--workers`), the console script sets PROMETHEUS_MULTIPROC_DIR: each worker writes
its numbers there every second and on exit, and a scrape (answered by any worker) adds up every worker's file.
Gauges count only workers that are alive.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from app.exchange import Exchange
from app.observe.observer import Attempt

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
BREAKER_STATES = {"closed": 0, "open": 1, "half_open": 2}
OTHER = "other"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_SECONDS = 1.0
Labels = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    kind: str  # counter, gauge, histogram
    help: str
    labels: Labels
    buckets: tuple[float, ...] = ()
    merge: str = "sum"  # gauges across workers: sum (of the live ones) or max


SPECS: dict[str, Spec] = {
    "proxy_requests": Spec("counter", "Requests by endpoint, model and status", ("endpoint", "model", "status")),
    "proxy_request_duration_seconds": Spec(
        "histogram", "Request duration, to the end of the stream for streams", ("endpoint", "model"), DURATION_BUCKETS
    ),
    "proxy_time_to_first_token_seconds": Spec(
        "histogram", "Time to the first frame of a stream", ("endpoint", "model"), TTFT_BUCKETS
    ),
    "proxy_tokens": Spec("counter", "Tokens: input, output, cached, reasoning", ("endpoint", "model", "type")),
    "proxy_upstream_attempts": Spec(
        "counter", "Upstream attempts by outcome and Workers AI error code", ("model", "outcome", "code")
    ),
    "proxy_retries": Spec("counter", "Upstream attempts that were retried", ("model",)),
    "proxy_fallbacks": Spec("counter", "Hand-overs to a fallback model", ("model", "fallback")),
    "proxy_cache_requests": Spec(
        "counter", "Requests the reply cache saw, by what it did: hit, miss or bypass", ("endpoint", "result")
    ),
    "proxy_breaker_state": Spec(
        "gauge", "Circuit breaker state: 0 closed, 1 open, 2 half-open", ("model", "upstream"), merge="max"
    ),
    "proxy_in_flight_requests": Spec("gauge", "Requests being served", ("endpoint",)),
    "proxy_open_streams": Spec("gauge", "Streams being relayed", ()),
    "proxy_client_disconnects": Spec("counter", "Requests the client left before the end", ("endpoint",)),
    "proxy_drain_aborted_streams": Spec("counter", "Streams ended by the shutdown deadline", ()),
}


def multiprocess_dir() -> Path | None:
    found = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(found) if found else None


class Metrics(Collector):
    """The observer that counts, and the collector that reports. `is_known(model)` bounds the model label."""

    def __init__(self, is_known: Callable[[str], bool], directory: Path | None = None) -> None:
        self._is_known = is_known
        self.values: dict[str, dict[Labels, Any]] = {name: {} for name in SPECS}
        v = self.values
        self._requests, self._tokens, self._attempts = (
            v["proxy_requests"],
            v["proxy_tokens"],
            v["proxy_upstream_attempts"],
        )
        self._in_flight, self._streams = v["proxy_in_flight_requests"], v["proxy_open_streams"]
        self._duration, self._ttft = v["proxy_request_duration_seconds"], v["proxy_time_to_first_token_seconds"]
        self._directory = directory
        self._flushing: asyncio.TimerHandle | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- the observer ---------------------------------------------------------------------------------
    def request_started(self, exchange: Exchange) -> None:
        key = (exchange.endpoint,)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def request_finished(self, exchange: Exchange) -> None:
        endpoint = exchange.endpoint
        model = self.model_label(exchange.model_served)
        self._in_flight[(endpoint,)] -= 1
        _add(self._requests, (endpoint, model, str(exchange.status)))
        if exchange.ended is not None:
            _observe(self._duration, (endpoint, model), DURATION_BUCKETS, exchange.ended - exchange.started)
        if exchange.relayed:
            self._streams[()] -= 1
        if exchange.first_token is not None:
            _observe(self._ttft, (endpoint, model), TTFT_BUCKETS, exchange.first_token - exchange.started)
        if exchange.outcome == "disconnected":
            _add(self.values["proxy_client_disconnects"], (endpoint,))
        if exchange.cache is not None:
            _add(self.values["proxy_cache_requests"], (endpoint, exchange.cache))
        usage = exchange.usage
        if usage:
            tokens = self._tokens
            _add(tokens, (endpoint, model, "input"), usage.get("prompt_tokens", 0))
            _add(tokens, (endpoint, model, "output"), usage.get("completion_tokens", 0))
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            if cached:
                _add(tokens, (endpoint, model, "cached"), cached)
            reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
            if reasoning:
                _add(tokens, (endpoint, model, "reasoning"), reasoning)

    def stream_opened(self, exchange: Exchange) -> None:
        self._streams[()] = self._streams.get((), 0) + 1

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        model = self.model_label(exchange.model_served)
        code = str(attempt.upstream_code) if attempt.upstream_code is not None else "none"
        _add(self._attempts, (model, attempt.outcome, code))
        if attempt.retry_delay is not None:
            _add(self.values["proxy_retries"], (model,))

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        _add(self.values["proxy_fallbacks"], (self.model_label(failed_model), self.model_label(next_model)))

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        self.values["proxy_breaker_state"][(self.model_label(model_id), upstream)] = BREAKER_STATES.get(state, 0)

    def drain_aborted(self, streams: int) -> None:
        _add(self.values["proxy_drain_aborted_streams"], (), streams)

    def model_label(self, model: str | None) -> str:
        if model is None:
            return "none"
        return model if self._is_known(model) else OTHER

    # -- the collector --------------------------------------------------------------------------------
    def collect(self) -> Iterator[Any]:
        merged = self._merged()
        for name, spec in SPECS.items():
            series = merged[name]
            if spec.kind == "counter":
                family: Any = CounterMetricFamily(name, spec.help, labels=spec.labels)
                for labels, value in series.items():
                    family.add_metric(labels, value)
            elif spec.kind == "gauge":
                family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
                for labels, value in series.items():
                    family.add_metric(labels, value)
            else:
                family = HistogramMetricFamily(name, spec.help, labels=spec.labels)
                for labels, counts in series.items():
                    cumulative, buckets = 0, []
                    for bound, count in zip((*spec.buckets, float("inf")), counts, strict=False):
                        cumulative += count
                        buckets.append((_bound(bound), cumulative))
                    family.add_metric(labels, buckets, counts[-2])
            yield family

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # -- several workers ------------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._directory is not None:
            self._flushing = loop.call_later(FLUSH_SECONDS, self._flush_periodically, loop)

    def stop(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
        self.flush()

    def _flush_periodically(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flush()
        self._flushing = loop.call_later(FLUSH_SECONDS, self._flush_periodically, loop)

    def flush(self) -> None:
        if self._directory is None:
            return
        snapshot = {
            name: [[list(labels), value] for labels, value in series.items()] for name, series in self.values.items()
        }
        path = self._directory / f"workers-ai-proxy-{os.getpid()}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(snapshot))
        temporary.replace(path)  # atomic: a scrape never reads half a file

    def _merged(self) -> dict[str, dict[Labels, Any]]:
        if self._directory is None:
            return self.values
        merged: dict[str, dict[Labels, Any]] = {name: dict(series) for name, series in self.values.items()}
        for path in self._directory.glob("workers-ai-proxy-*.json"):
            pid = int(path.stem.rsplit("-", 1)[1])
            if pid == os.getpid():
                continue
            try:
                snapshot = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            alive = _alive(pid)
            for name, series in snapshot.items():
                spec = SPECS.get(name)
                if spec is None or (spec.kind == "gauge" and not alive):
                    continue
                for labels, value in series:
                    _merge(merged[name], tuple(labels), value, spec)
        return merged


def _add(series: dict[Labels, Any], labels: Labels, amount: float = 1) -> None:
    series[labels] = series.get(labels, 0) + amount


def _observe(series: dict[Labels, Any], labels: Labels, bounds: tuple[float, ...], value: float) -> None:
    counts = series.get(labels)
    if counts is None:
        counts = series[labels] = [0] * (len(bounds) + 1) + [0.0, 0]  # buckets, +Inf, sum, count
    counts[bisect_left(bounds, value)] += 1
    counts[-2] += value
    counts[-1] += 1


def _merge(series: dict[Labels, Any], labels: Labels, value: Any, spec: Spec) -> None:
    known = series.get(labels)
    if known is None:
        series[labels] = value
    elif spec.kind == "histogram":
        series[labels] = [a + b for a, b in zip(known, value, strict=True)]
    elif spec.merge == "max":
        series[labels] = max(known, value)
    else:
        series[labels] = known + value


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
