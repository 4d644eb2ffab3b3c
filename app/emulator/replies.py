"""The shapes every emulated route answers in: the v4 envelope, its errors, SSE events; and noticing a client that
left mid-stream (for a script that watches)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from app.emulator.script import SCRIPT_KEY
from app.emulator.world import WORLD_KEY


def envelope_error(status: int, code: int, message: str) -> web.Response:
    body = {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def gateway_error(status: int, code: int, message: str) -> web.Response:
    """AI Gateway's own errors: `error` (a list), not `errors`."""
    body = {"success": False, "error": [{"code": code, "message": message}]}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def refusal(request: web.Request, *, gateway: bool = False) -> web.Response | None:
    """The account's answer to a call it will not take: a token it does not know (401), another account
    (400, no route), or a gateway it does not have (404). None: go ahead."""
    world = request.app[WORLD_KEY]
    if not world.authorized(request):
        return envelope_error(401, 10000, "Authentication error")
    if not world.is_account(request.match_info["account"]):
        return envelope_error(400, 7000, "No route for that URI")
    if gateway and not world.is_gateway(request.match_info["gateway"]):
        return envelope_error(404, 7002, "Gateway not found")
    return None


def success(result: Any) -> web.Response:
    body = {"result": result, "success": True, "errors": [], "messages": []}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def json_response(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's body when it is a JSON object; None otherwise (the route answers its own 400)."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def client_left(request: web.Request) -> None:
    script = request.app.get(SCRIPT_KEY)
    if script is not None:
        script.client_left()
