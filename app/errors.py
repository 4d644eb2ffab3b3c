"""Every failure the proxy reports, as one exception tree that renders to an OpenAI error body.

    ProxyError                      -> {"error": {"message", "type", "param", "code"}} + HTTP status
     +-- InvalidRequest        400  malformed JSON, schema violations, unsupported parameters
     |    +-- ContentBlocked   400  a guardrail or content filter blocked the prompt or the answer
     +-- AuthenticationFailed  401  missing/wrong client key, upstream token refused
     +-- PermissionDenied      403  upstream refuses the account or model
     +-- NotFound              404  unknown path
     |    +-- ModelNotFound    404  unknown model (ours or the upstream's verdict)
     +-- RequestTimeout        408  the upstream timed the request out (Workers AI 3007/3008)
     +-- PayloadTooLarge       413
     +-- RateLimited           429  upstream capacity or rate limit (Retry-After when known)
     |    +-- QuotaExhausted   429  daily neuron allocation used up (Retry-After: next 00:00 UTC)
     |         +-- CreditsExhausted 429  AI Gateway credits used up (until someone tops them up)
     +-- UpstreamError         502  unusable upstream reply; or the upstream's own 5xx status
     |    +-- UpstreamUnreachable  502  connection refused/reset, DNS, TLS
     |    +-- UpstreamTimeout      504  no answer in time
     +-- Unavailable           503  the proxy sheds load: circuit open, queue full, shutting down
     +-- ClientClosedRequest   499  the client left (mid-body, or while queued); nobody reads the answer
     +-- InternalError         500  a bug of ours; the body never carries a traceback

`retryable` says whether trying again (later, or another model) may succeed; the retry loop and the fallback
chain act only on those.

Raised anywhere below the API layer; `api.errors` turns them into responses (or an in-band stream frame).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProxyError(Exception):
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    retryable_by_default: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.http_status = status if status is not None else self.status
        self.headers = headers or {}
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.upstream_code: int | None = None  # Workers AI's / AI Gateway's own error code, when it gave one

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(ProxyError):
    status = 400
    error_type = "invalid_request_error"


class ContentBlocked(InvalidRequest):
    """AI Gateway guardrails (2016, 2017) or Workers AI's content filter (3030): asking again gets the same."""

    default_code = "content_filter"


class AuthenticationFailed(ProxyError):
    status = 401
    error_type = "invalid_request_error"
    default_code = "invalid_api_key"


class PermissionDenied(ProxyError):
    status = 403
    error_type = "permission_error"
    default_code = "permission_denied"


class NotFound(ProxyError):
    status = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class RequestTimeout(ProxyError):
    status = 408
    error_type = "timeout_error"
    default_code = "timeout"
    retryable_by_default = True


class PayloadTooLarge(ProxyError):
    status = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimited(ProxyError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable_by_default = True


class QuotaExhausted(RateLimited):
    """The daily allocation: nothing changes before 00:00 UTC, so it is never retried."""

    error_type = "insufficient_quota"
    default_code = "insufficient_quota"
    retryable_by_default = False


class CreditsExhausted(QuotaExhausted):
    """AI Gateway's Unified Billing credits (2021): no reset time to wait for, so no Retry-After."""


class UpstreamError(ProxyError):
    status = 502
    error_type = "server_error"
    default_code = "upstream_error"
    retryable_by_default = True


class UpstreamUnreachable(UpstreamError):
    default_code = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    """Retried only when the connection could not be made in time; a model that did not answer within the
    first-byte timeout already had its chance."""

    status = 504
    error_type = "timeout_error"
    default_code = "upstream_timeout"
    retryable_by_default = False


class Unavailable(ProxyError):
    status = 503
    error_type = "server_error"
    default_code = "unavailable"


class ClientClosedRequest(ProxyError):
    """nginx's 499: logged at debug, never counted against the upstream."""

    status = 499
    error_type = "invalid_request_error"
    default_code = "client_closed_request"


class InternalError(ProxyError):
    default_code = "internal_error"
