"""Every observed endpoint's request is an Exchange from the first byte to the last: begun before the handler,
given its status and error code however it ends, finished here (or, for a stream, when the stream ends). The
reply carries `x-request-id` (errors get it where they are rendered, `app.api.errors`)."""

from __future__ import annotations

import asyncio
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import BODY_KEY
from app.api.event_stream import RelayEventSource
from app.api.operation import Handler, Operation
from app.api.request_id import RAW_NAME, request_id
from app.api.state import EXCHANGE_KEY, app_state
from app.errors import ClientClosedRequest, ProxyError

ERRORS_KEY = "workers_ai_proxy.errors"  # which protocol's error shape this request's failures take


def observed(operation: Operation) -> Handler:
    handler = operation.handler
    if not operation.observed:
        return with_request_id(handler)
    errors = operation.errors

    @wraps(handler)
    async def handle(request: Request) -> Response:
        request.scope[ERRORS_KEY] = errors
        rid = request_id(request)
        pipeline = app_state(request).pipeline
        exchange = pipeline.begin(operation.resource, rid)
        request.scope[EXCHANGE_KEY] = exchange
        try:
            response = await handler(request)
        except ProxyError as error:
            exchange.status, exchange.error_code = error.http_status, error.code
            exchange.outcome = "disconnected" if isinstance(error, ClientClosedRequest) else "failed"
            pipeline.finish(exchange)
            raise
        except asyncio.CancelledError:
            exchange.status, exchange.outcome = 499, "disconnected"
            pipeline.finish(exchange)
            raise
        except Exception:
            exchange.status, exchange.error_code, exchange.outcome = 500, "internal_error", "failed"
            pipeline.finish(exchange)
            raise
        exchange.status = response.status_code
        if exchange.cache == "hit" and not isinstance(response, RelayEventSource):  # its repeats: answered early
            repeats = getattr(request.app, "repeats", None)
            body = request.scope.get(BODY_KEY)
            if repeats is not None and body is not None:
                repeats.remember(request.scope, body, exchange, response.raw_headers, bytes(response.body))
        if exchange.reply_headers:  # what policies add (rate limits)
            response.raw_headers.extend(
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in exchange.reply_headers.items()
            )
        if not isinstance(response, RelayEventSource):
            pipeline.finish(exchange)  # a stream finishes when it ends
        response.raw_headers.append((RAW_NAME, rid.encode("latin-1")))  # a new header: no need to look for it
        if errors == "anthropic":  # the Anthropic SDKs read theirs from `request-id`
            response.raw_headers.append((b"request-id", rid.encode("latin-1")))
        return response

    return handle


def with_request_id(handler: Handler) -> Handler:
    @wraps(handler)
    async def handle(request: Request) -> Response:
        rid = request_id(request)
        response = await handler(request)
        response.raw_headers.append((RAW_NAME, rid.encode("latin-1")))
        return response

    return handle
