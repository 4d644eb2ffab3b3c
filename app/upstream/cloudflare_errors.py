"""Workers AI / AI Gateway error replies -> ProxyError, keeping the upstream's message.

Accepted bodies (the wire spec, section 3): the v4 envelope `{"errors": [{code, message}]}`, the gateway's
`{"error": [{code, message}]}`, an OpenAI-style `{"error": {message, code}}`, the binding's
`{internalCode, message}`, or plain text. The documented code decides the status where it is known;
otherwise the upstream's HTTP status does.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import re
from typing import Any

import orjson

from app.errors import (
    AuthenticationFailed,
    ContentBlocked,
    CreditsExhausted,
    InvalidRequest,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProxyError,
    QuotaExhausted,
    RateLimited,
    RequestTimeout,
    UpstreamError,
)

ERROR_BY_CODE: dict[int, type[ProxyError]] = {
    # request problems
    3003: InvalidRequest,
    5004: InvalidRequest,
    5006: InvalidRequest,
    3006: PayloadTooLarge,
    # content blocked: Workers AI's filter, AI Gateway guardrails (on the prompt or the answer)
    3030: ContentBlocked,
    2016: ContentBlocked,
    2017: ContentBlocked,
    # unknown model or route
    5007: ModelNotFound,
    3042: ModelNotFound,
    7000: ModelNotFound,
    # credentials and entitlements
    10000: AuthenticationFailed,
    2009: AuthenticationFailed,
    3023: PermissionDenied,
    3041: PermissionDenied,
    5016: PermissionDenied,
    5018: PermissionDenied,
    5035: PermissionDenied,
    # load
    3040: RateLimited,
    2003: RateLimited,
    2018: RateLimited,
    2041: RateLimited,
    3036: QuotaExhausted,
    4006: QuotaExhausted,
    2021: CreditsExhausted,
    3007: RequestTimeout,
    3008: RequestTimeout,
}

ERROR_BY_STATUS: dict[int, type[ProxyError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    408: RequestTimeout,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: RateLimited,
}

# AI Gateway guardrails could not run (a Block rule applies): the request may pass on a second try
TRANSIENT_CODES = frozenset({7013})
# What the client can do about it, after Cloudflare's own message
HINTS = {
    5035: "This model needs the Workers Paid plan (or AI Gateway Unified Billing credits); the account is on the "
    "Free plan.",
    2021: "The AI Gateway credits of this account are used up; top them up to continue.",
}
# OpenAI-style `code`s for the cases a client may want to tell apart from their class's default
SPECIFIC_CODES = {5035: "requires_workers_paid", 2016: "content_filter", 2017: "content_filter"}
MAX_MESSAGE = 2000
MAX_RETRY_AFTER = 86_400  # a day: beyond that a relayed value is the upstream's mistake
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def upstream_error(status: int, body: bytes, headers: dict[str, str]) -> ProxyError:
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = _plain_text(body, headers.get("content-type", ""))
    return error_from_payload(status, payload, headers)


def _plain_text(body: bytes, content_type: str) -> str:
    """A plain-text error body is Cloudflare's message; an HTML page (a proxy's or a load balancer's error
    page) is not a message, and its bytes stay out of the reply."""
    text = body.decode("utf-8", "replace").strip()
    if "html" in content_type.lower() or text.startswith("<"):
        return ""
    return CONTROL_CHARACTERS.sub(" ", text[:MAX_MESSAGE])


def error_from_payload(status: int, payload: Any, headers: dict[str, str]) -> ProxyError:
    code, message = _code_and_message(payload)
    error = _error(status, code, message, headers)
    error.upstream_code = code
    return error


def _error(status: int, code: int | None, message: str, headers: dict[str, str]) -> ProxyError:
    if not message:
        message = f"Workers AI returned HTTP {status}" if status >= 300 else "Workers AI reported a failure"
    if code is not None:
        message = f"{message} (Workers AI error {code})"
    error_class = ERROR_BY_CODE.get(code) if code is not None else None
    if code in TRANSIENT_CODES:
        return UpstreamError(message, status=503, retryable=True)
    hint = HINTS.get(code) if code is not None else None
    if hint is not None:
        message = f"{message} {hint}"
    if error_class is None:
        error_class = ERROR_BY_STATUS.get(status)
    if error_class is None:
        # 5xx keep their status; any other 4xx (405, 415, 431, ...) refused the request as sent, which the
        # client shaped; anything else unexpected is the gateway's problem to report
        if 500 <= status <= 599:
            return UpstreamError(message, status=status, retryable=status in TRANSIENT_STATUSES)
        if 400 <= status <= 499:
            return InvalidRequest(message, status=status, code="upstream_refused_request")
        return UpstreamError(message, retryable=False)  # e.g. a redirect: trying again changes nothing
    extra_headers: dict[str, str] = {}
    retry_after = retry_after_seconds(headers.get("retry-after"))
    if error_class is QuotaExhausted:
        extra_headers["Retry-After"] = str(seconds_until_utc_midnight())
    elif retry_after is not None:
        extra_headers["Retry-After"] = str(retry_after)
    keep_status = error_class in (InvalidRequest, NotFound) and 400 <= status <= 499
    specific = SPECIFIC_CODES.get(code) if code is not None else None
    return error_class(message, status=status if keep_status else None, headers=extra_headers, code=specific)


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> int | None:
    """A Retry-After header in either of its forms (RFC 9110 10.2.3), delay-seconds or an HTTP-date, as whole
    seconds from now in 0..MAX_RETRY_AFTER; None when absent or not a valid value (negative, NaN, garbage)."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(int(text), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" in an HTTP-date means UTC as well
        when = when.replace(tzinfo=dt.UTC)
    seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(0, math.ceil(seconds)), MAX_RETRY_AFTER)


def _code_and_message(payload: Any) -> tuple[int | None, str]:
    if isinstance(payload, str):
        return None, payload
    if not isinstance(payload, dict):
        return None, ""
    for key in ("errors", "error"):
        entry = payload.get(key)
        if isinstance(entry, list) and entry and isinstance(entry[0], dict):
            entry = entry[0]
        if isinstance(entry, dict):
            return _as_code(entry.get("code")), str(entry.get("message") or "")[:MAX_MESSAGE]
        if isinstance(entry, str) and entry:
            return _as_code(payload.get("code")), entry[:MAX_MESSAGE]
    if "internalCode" in payload or "message" in payload:
        return _as_code(payload.get("internalCode")), str(payload.get("message") or "")[:MAX_MESSAGE]
    return None, ""


def _as_code(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def seconds_until_utc_midnight(now: dt.datetime | None = None) -> int:
    """Daily neuron allocations reset at 00:00 UTC."""
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds() + 0.999))
