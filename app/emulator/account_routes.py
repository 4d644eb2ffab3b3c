"""The account's API beside inference: the model catalogue (`/ai/models/search`), token verification, the gateway
and its logs (wire spec 5.1, 9.13, 9.15)."""

from __future__ import annotations

from aiohttp import web

from app.emulator.replies import envelope_error, json_response, refusal, success
from app.emulator.world import WORLD_KEY


async def search_models(request: web.Request) -> web.Response:
    """The catalogue, paged like `/ai/models/search`."""
    refused = refusal(request)
    if refused is not None:
        return refused
    page, per_page = int(request.query.get("page", "1")), int(request.query.get("per_page", "20"))
    entries = request.app[WORLD_KEY].catalogue_entries()
    chunk = entries[(page - 1) * per_page : page * per_page]
    info = {"count": len(chunk), "page": page, "per_page": per_page, "total_count": len(entries)}
    return json_response({"result": chunk, "result_info": info, "success": True, "errors": [], "messages": []})


async def verify_token(request: web.Request) -> web.Response:
    world = request.app[WORLD_KEY]
    account = request.match_info.get("account")
    if not world.authorized(request) or (account is not None and not world.is_account(account)):
        return envelope_error(401, 1000, "Invalid API Token")
    return success({"id": "emulated-token", "status": "active"})


async def gateway(request: web.Request) -> web.Response:
    refused = refusal(request, gateway=True)
    if refused is not None:
        return refused
    return success({"id": request.match_info["gateway"], "collect_logs": True, "cache_ttl": 0})


async def gateway_log(request: web.Request) -> web.Response:
    """One log entry (GET), or feedback on it (PATCH)."""
    refused = refusal(request, gateway=True)
    if refused is not None:
        return refused
    world = request.app[WORLD_KEY]
    log_id = request.match_info["log_id"]
    if request.method == "PATCH":
        world.feedback[log_id] = await request.json()
    entry = {"id": log_id, "provider": "workers-ai", "model": "@cf/meta/llama-3.1-8b-instruct", "success": True}
    return success({**entry, **(world.feedback.get(log_id) or {})})
