"""Admin endpoints (`GET /v1/usage`, `/admin/keys`): only `PROXY_ADMIN_KEY` opens them, compared in constant
time; other keys get a 403, no key a 401; without PROXY_ADMIN_KEY they are off (403)."""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.operation import Operation
from app.api.respond import json_response
from app.api.state import app_state
from app.errors import AuthenticationFailed, PermissionDenied
from app.policies.identity import bearer_token
from app.protocol.admin import KeyCreateRequest
from app.serving.admin_keys import AdminKeys


def require_admin(request: Request) -> None:
    admin = app_state(request).admin_key
    presented = bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key")
    if admin is None:
        raise PermissionDenied("Admin endpoints are off: set PROXY_ADMIN_KEY to use them.", code="admin_disabled")
    if not presented:
        raise AuthenticationFailed("This endpoint needs PROXY_ADMIN_KEY as 'Authorization: Bearer <key>'.")
    if not hmac.compare_digest(presented.encode(), admin.encode()):
        raise PermissionDenied("This endpoint needs PROXY_ADMIN_KEY.", code="admin_only")


async def usage(request: Request) -> Response:
    require_admin(request)
    query = request.query_params
    report = app_state(request).usage
    if report is None:
        raise PermissionDenied("The usage ledger is off in this app.", code="admin_disabled")
    totals = await report.totals(query.get("start"), query.get("end"), query.get("group_by"), time.time())
    return json_response(totals)


def _keys(request: Request) -> AdminKeys:
    require_admin(request)
    keys = app_state(request).admin_keys
    if keys is None:
        raise PermissionDenied("The key store is off in this app.", code="admin_disabled")
    return keys


async def create_key(request: Request) -> Response:
    keys = _keys(request)
    body = await parse_body(request, KeyCreateRequest)
    return json_response(await keys.create(body, time.time()), status=201)


async def list_keys(request: Request) -> Response:
    return json_response(await _keys(request).list(time.time()))


async def revoke_key(request: Request) -> Response:
    return json_response(await _keys(request).revoke(request.path_params["name"], time.time()))


OPERATIONS = (
    Operation(
        "GET",
        "/v1/usage",
        usage,
        summary="Usage totals from the ledger (PROXY_ADMIN_KEY): ?start=&end=&group_by=key,model,day,endpoint",
        tag="admin",
        resource="usage",
        also_at=("/usage",),
    ),
    Operation(
        "POST",
        "/admin/keys",
        create_key,
        summary="Make a named key (PROXY_ADMIN_KEY); the reply shows it, once",
        tag="admin",
        resource="admin",
        body=KeyCreateRequest,
    ),
    Operation(
        "GET", "/admin/keys", list_keys, summary="The named keys (never the keys)", tag="admin", resource="admin"
    ),
    Operation("DELETE", "/admin/keys/{name}", revoke_key, summary="Revoke a named key", tag="admin", resource="admin"),
)
