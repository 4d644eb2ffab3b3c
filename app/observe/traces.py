"""OpenTelemetry traces (the optional `otel` extra): one span per request with the GenAI semantic-convention
attributes (wire spec 9.14), and a child span per upstream attempt. Exported over OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT is set; a test hands in its own tracer (the SDK's in-memory exporter)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from app.exchange import Exchange
from app.observe.observer import Attempt

PROVIDER = "cloudflare.workers_ai"  # no standard value exists for Cloudflare (wire spec 9.14)
OPERATIONS = {"chat": "chat", "completions": "text_completion", "embeddings": "embeddings"}


class Traces:
    def __init__(self, tracer: Any, shutdown: Any = None) -> None:
        self._tracer = tracer
        self._spans: dict[int, Any] = {}
        self.shutdown = shutdown  # flushes the exporter when the app stops (None: the tracer's owner does)

    def request_started(self, exchange: Exchange) -> None:
        operation = OPERATIONS.get(exchange.endpoint, exchange.endpoint)
        span = self._tracer.start_span(operation, attributes={"gen_ai.operation.name": operation})
        span.set_attribute("gen_ai.provider.name", PROVIDER)
        span.set_attribute("workers_ai_proxy.request_id", exchange.request_id)
        self._spans[id(exchange)] = span

    def stream_opened(self, exchange: Exchange) -> None:
        return None

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        parent = self._spans.get(id(exchange))
        if parent is None:
            return
        from opentelemetry import trace

        end = time.time_ns()
        start = end - int(attempt.duration * 1e9)
        span = self._tracer.start_span("upstream attempt", context=trace.set_span_in_context(parent), start_time=start)
        span.set_attribute("workers_ai_proxy.attempt", attempt.number)
        span.set_attribute("workers_ai_proxy.outcome", attempt.outcome)
        if exchange.model_served:
            span.set_attribute("gen_ai.request.model", exchange.model_served)
        if attempt.status is not None:
            span.set_attribute("http.response.status_code", attempt.status)
        if attempt.upstream_code is not None:
            span.set_attribute("error.type", str(attempt.upstream_code))
        elif attempt.error_code is not None:
            span.set_attribute("error.type", attempt.error_code)
        if attempt.retry_delay is not None:
            span.set_attribute("workers_ai_proxy.retry_delay", attempt.retry_delay)
        span.end(end_time=end)

    def request_finished(self, exchange: Exchange) -> None:
        span = self._spans.pop(id(exchange), None)
        if span is None:
            return
        operation = OPERATIONS.get(exchange.endpoint, exchange.endpoint)
        if exchange.model_asked:
            span.update_name(f"{operation} {exchange.model_asked}")
            span.set_attribute("gen_ai.request.model", exchange.model_asked)
        if exchange.model_served:
            span.set_attribute("gen_ai.response.model", exchange.model_served)
        span.set_attribute("gen_ai.request.stream", exchange.stream)
        span.set_attribute("http.response.status_code", exchange.status)
        span.set_attribute("workers_ai_proxy.attempts", exchange.attempts)
        span.set_attribute("workers_ai_proxy.outcome", exchange.outcome)
        if exchange.identity is not None:
            span.set_attribute("workers_ai_proxy.identity", exchange.identity.name)
        usage: Mapping[str, Any] = exchange.usage or {}
        if "prompt_tokens" in usage:
            span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            span.set_attribute("gen_ai.usage.output_tokens", usage.get("completion_tokens", 0))
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        if cached:
            span.set_attribute("gen_ai.usage.cache_read.input_tokens", cached)
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        if reasoning:
            span.set_attribute("gen_ai.usage.reasoning.output_tokens", reasoning)
        if exchange.time_to_first_token is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", exchange.time_to_first_token)
        if exchange.error_code is not None:
            span.set_attribute("error.type", exchange.error_code)
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        span = self._spans.get(id(exchange))
        if span is not None:
            span.add_event("fallback", {"from": failed_model, "to": next_model, "reason": reason or ""})

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        return None

    def drain_aborted(self, streams: int) -> None:
        return None


def from_environment() -> Traces | None:
    """Traces exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set and the `otel` extra is installed."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        import logging

        logging.getLogger("workers_ai_proxy").warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed: "
            "pip install 'workers-ai-proxy[otel]'"
        )
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "workers-ai-proxy"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Traces(provider.get_tracer("workers-ai-proxy"), provider.shutdown)
