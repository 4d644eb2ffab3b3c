"""The access log: one line per request at `info` on the `workers_ai_proxy.access` logger, and warnings for
retries, fallbacks and breaker transitions on `workers_ai_proxy`.

Text lines read left to right as the request went (`req_... key-1 chat llama-3.3 -> llama-3.3 200 ...`); with
PROXY_LOG_FORMAT=json every record is one JSON object (see `observe.log_format`) and the fields travel as they
are. Bodies are logged only with PROXY_LOG_BODIES=true, scrubbed of secrets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from app.exchange import Exchange
from app.observe.log_format import TEXT_PREFIX, BatchedStreamHandler, JsonFormatter, json_line
from app.observe.observer import Attempt

access = logging.getLogger("workers_ai_proxy.access")
log = logging.getLogger("workers_ai_proxy")


class AccessLog:
    def __init__(self, *, json: bool, scrub: Callable[[str], str] | None = None) -> None:
        self._json = json
        self._scrub = scrub  # set when bodies are logged (PROXY_LOG_BODIES)
        self._direct: BatchedStreamHandler | bool | None = False  # False: not looked up yet

    def request_started(self, exchange: Exchange) -> None:
        return None

    def stream_opened(self, exchange: Exchange) -> None:
        return None

    def request_finished(self, exchange: Exchange) -> None:
        if not access.isEnabledFor(logging.INFO):
            return
        if not self._json and not (self._scrub is not None and exchange.bodies):
            direct = self._direct_handler()
            if direct is not None:  # the common case: the text line straight from the exchange
                direct.write_line(TEXT_PREFIX + line_of(exchange))
                return
        fields = fields_of(exchange)
        if self._scrub is not None and exchange.bodies:
            fields["bodies"] = {name: self._scrub(text) for name, text in exchange.bodies.items()}
        direct = self._direct_handler()
        if direct is not None:  # the console script's own handler: the same line, without a LogRecord
            if self._json:
                direct.write_line(json_line(time.time(), "INFO", access.name, "request", fields))
            else:
                direct.write_line(TEXT_PREFIX + text_line(fields))
        elif self._json:
            access.info("request", extra={"fields": fields})
        else:
            access.info("%s", text_line(fields))

    def _direct_handler(self) -> BatchedStreamHandler | None:
        """The access logger's handler, when it is only the console script's batched one (no filters): then
        lines go to it directly. Anything else (a test's capture, a custom config) gets real log records."""
        if self._direct is False:
            handlers = access.handlers
            only = handlers[0] if len(handlers) == 1 and not access.filters and not access.propagate else None
            found = only if isinstance(only, BatchedStreamHandler) and not only.filters else None
            if found is not None and isinstance(found.formatter, JsonFormatter) != self._json:
                found = None  # the line must come out as the handler's own format would write it
            self._direct = found
        return self._direct if isinstance(self._direct, BatchedStreamHandler) else None

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        if attempt.retry_delay is not None:
            log.warning(
                "%s: upstream attempt %d for %s failed (%s%s); retrying in %.2f s",
                exchange.request_id,
                attempt.number + 1,
                exchange.model_served,
                attempt.error_code,
                f", Workers AI code {attempt.upstream_code}" if attempt.upstream_code else "",
                attempt.retry_delay,
            )

    def fallback_taken(self, exchange: Exchange, failed_model: str, next_model: str, reason: str | None) -> None:
        log.warning("%s: %s failed (%s); falling back to %s", exchange.request_id, failed_model, reason, next_model)

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        log.warning("circuit breaker for %s (%s upstream) is now %s", model_id, upstream, state.replace("_", "-"))

    def drain_aborted(self, streams: int) -> None:
        return None  # the drain logs it itself


def flush() -> None:
    """Write the lines still batched (app shutdown: uvicorn may end the process by re-raising SIGTERM, which
    skips logging's own flush at exit)."""
    for handler in access.handlers:
        handler.flush()


def fields_of(exchange: Exchange) -> dict[str, Any]:
    usage: Mapping[str, Any] = exchange.usage or {}
    duration = exchange.duration
    ttft = exchange.time_to_first_token
    fields: dict[str, Any] = {
        "request_id": exchange.request_id,
        "identity": exchange.identity.name if exchange.identity is not None else None,
        "endpoint": exchange.endpoint,
        "model": exchange.model_asked,
        "served": exchange.model_served,
        "route": exchange.route.upstream if exchange.route is not None else None,
        "status": exchange.status,
        "error": exchange.error_code,
        "attempts": exchange.attempts,
        "fallbacks": exchange.fallbacks or None,
        "tokens_in": usage.get("prompt_tokens"),
        "tokens_out": usage.get("completion_tokens"),
        "duration_ms": round(duration * 1000, 1) if duration is not None else None,
        "ttft_ms": round(ttft * 1000, 1) if ttft is not None else None,
        "stream": exchange.stream,
        "outcome": exchange.outcome,
    }
    return fields


def line_of(exchange: Exchange) -> str:
    """`text_line(fields_of(exchange))` without the dictionary between them (every request writes one)."""
    model = exchange.model_asked or "-"
    route = exchange.route
    served = route.model_id if route is not None else None
    identity = exchange.identity.name if exchange.identity is not None else "-"
    head = f"{model} -> {served}" if served and served != model else model
    duration = exchange.duration
    line = f"{exchange.request_id} {identity or '-'} {exchange.endpoint} {head} {exchange.status}"
    if exchange.error_code:
        line += f" error={exchange.error_code}"
    line += f" {round(duration * 1000, 1) if duration is not None else None}ms"
    ttft = exchange.time_to_first_token
    if ttft is not None:
        line += f" ttft={round(ttft * 1000, 1)}ms"
    usage = exchange.usage
    if usage and usage.get("prompt_tokens") is not None:
        line += f" tokens={usage.get('prompt_tokens')}/{usage.get('completion_tokens')}"
    if exchange.attempts > 1:
        line += f" attempts={exchange.attempts}"
    if exchange.fallbacks:
        line += " fallbacks=" + ",".join(exchange.fallbacks)
    if exchange.stream:
        line += " stream"
    if exchange.outcome != "completed":
        line += " " + exchange.outcome
    if route is not None and route.upstream and route.upstream != "native":
        line += f" route={route.upstream}"
    return line


def text_line(fields: dict[str, Any]) -> str:
    model = fields["model"] or "-"
    served = fields["served"]
    parts = [
        fields["request_id"],
        fields["identity"] or "-",
        fields["endpoint"],
        f"{model} -> {served}" if served and served != model else model,
        str(fields["status"]),
    ]
    if fields["error"]:
        parts.append(f"error={fields['error']}")
    parts.append(f"{fields['duration_ms']}ms")
    if fields["ttft_ms"] is not None:
        parts.append(f"ttft={fields['ttft_ms']}ms")
    if fields["tokens_in"] is not None:
        parts.append(f"tokens={fields['tokens_in']}/{fields['tokens_out']}")
    if fields["attempts"] > 1:
        parts.append(f"attempts={fields['attempts']}")
    if fields["fallbacks"]:
        parts.append("fallbacks=" + ",".join(fields["fallbacks"]))
    if fields["stream"]:
        parts.append("stream")
    if fields["outcome"] != "completed":
        parts.append(fields["outcome"])
    if fields["route"] and fields["route"] != "native":
        parts.append(f"route={fields['route']}")
    if "bodies" in fields:
        parts.extend(f"{name}={text!r}" for name, text in fields["bodies"].items())
    return " ".join(parts)
