"""Every error leaves the proxy as an OpenAI error body with the right status, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from app.api.observed import ERRORS_KEY
from app.api.redaction import Secrets, redact
from app.api.request_id import HEADER, request_id
from app.api.respond import json_response
from app.api.state import EXCHANGE_KEY
from app.bridges.messages.errors import status_and_body
from app.errors import ClientClosedRequest, InternalError, InvalidRequest, NotFound, ProxyError

log = logging.getLogger("workers_ai_proxy")


def install_error_handlers(app: FastAPI, secrets: Secrets) -> None:
    async def on_proxy_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProxyError)
        if isinstance(exc, ClientClosedRequest):  # nobody is left to answer: one line, at debug
            log.debug("%s %s: %s", request.method, request.url.path, exc.message)
        return render(exc, request, secrets)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        return render(InvalidRequest(f"Invalid request: {first['msg']}."), request, secrets)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = f"{request.method} {request.url.path}"
        error: ProxyError
        if exc.status_code == 404:
            error = NotFound(f"Invalid URL ({path})", code=None)
        elif exc.status_code == 405:
            error = InvalidRequest(f"Method not allowed ({path})", status=405, code=None)
        else:
            error = InvalidRequest(str(exc.detail), status=exc.status_code, code=None)
        return render(error, request, secrets, exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
        return render(InternalError("The proxy failed to handle this request."), request, secrets)

    app.add_exception_handler(ProxyError, on_proxy_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def render(
    error: ProxyError, request: Request, secrets: Secrets, extra_headers: Mapping[str, str] | None = None
) -> Response:
    message = redact(error.message, request, secrets)
    exchange = request.scope.get(EXCHANGE_KEY)
    policy_headers = exchange.reply_headers if exchange is not None else {}
    headers = {**(extra_headers or {}), **policy_headers, **error.headers, HEADER: request_id(request)}
    if request.scope.get(ERRORS_KEY) == "anthropic":
        headers["request-id"] = headers[HEADER]
        status, anthropic = status_and_body(error, message)
        return json_response(anthropic, status=status, headers=headers)
    body = error.body()
    body["error"]["message"] = message
    return json_response(body, status=error.http_status, headers=headers)
