"""Failures in Anthropic's shape, `{"type": "error", "error": {"type", "message"}}`, with Anthropic's statuses
(529 for overloaded), so the Anthropic SDKs raise their own exception classes."""

from __future__ import annotations

from typing import Any

from app.errors import ProxyError

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}
OVERLOADED_CODES = ("overloaded", "circuit_open", "shutting_down")


def status_and_body(error: ProxyError, message: str) -> tuple[int, dict[str, Any]]:
    status = error.http_status
    kind = TYPES.get(status)
    if (kind is None and status in (503, 529)) or error.code in OVERLOADED_CODES:
        status, kind = 529, "overloaded_error"
    elif kind is None:
        kind = "invalid_request_error" if 400 <= status < 500 else "api_error"
    return status, {"type": "error", "error": {"type": kind, "message": message}}
