"""Cloudflare's v4 API envelope, `{"success", "result", "errors", "messages"}`: a reply's JSON, or its failure as
a ProxyError (`success: false` on an HTTP 200 included, e.g. a 3040, so that it is retried like the same error
on a 429). Pure parsing; the dialects read stream events with it too."""

from __future__ import annotations

from typing import Any

import orjson

from app.errors import UpstreamError
from app.upstream.client import UpstreamReply
from app.upstream.cloudflare_errors import error_from_payload, upstream_error


def json_reply(reply: UpstreamReply) -> Any:
    if reply.status != 200:
        raise upstream_error(reply.status, reply.body, dict(reply.headers))
    try:
        payload = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        raise UpstreamError("Workers AI returned a reply that is not JSON") from None
    if isinstance(payload, dict) and payload.get("success") is False:
        raise upstream_error(200, reply.body, dict(reply.headers))
    return payload


def unwrap_result(payload: Any) -> Any:
    """The `result` of a v4 envelope; tolerate a bare result from a gateway or an older client."""
    if isinstance(payload, dict) and ("result" in payload or "success" in payload):
        if payload.get("success") is False:
            raise error_from_payload(200, payload, {})
        return payload.get("result")
    return payload
