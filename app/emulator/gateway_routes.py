"""AI Gateway in front of the emulated account: the workers-ai provider route (`workers-ai/{model}`,
`workers-ai/v1/...`) and the unified API (`compat/chat/completions`), with the gateway's own auth and errors and
the `cf-aig-*` headers it adds (wire spec 6, 9.8)."""

from __future__ import annotations

from aiohttp import web

from app.emulator import native_routes, openai_routes
from app.emulator.replies import envelope_error, gateway_error, json_object
from app.emulator.world import WORLD_KEY

PROVIDERS = ("workers-ai", "openai", "anthropic")  # what the unified API accepts here
LOG_HEADERS = {"cf-aig-log-id": "01JADMCQQQBWH3NXZ5GCRN98DP", "cf-aig-cache-status": "MISS"}


async def gateway_route(request: web.Request) -> web.StreamResponse:
    world = request.app[WORLD_KEY]
    if not world.is_account(request.match_info["account"]) or not world.is_gateway(request.match_info["gateway"]):
        return gateway_error(404, 2001, "No such gateway")
    if not world.gateway_authorized(request):
        return gateway_error(401, 2009, "Unauthorized")
    if not world.authorized(request):
        return envelope_error(401, 10000, "Authentication error")
    rest = request.match_info["rest"]
    body = await json_object(request)
    if body is None:
        return gateway_error(400, 2001, "Bad request")
    response: web.StreamResponse
    if rest == "workers-ai/v1/chat/completions":
        response = await openai_routes.chat_completions(request, body, headers=LOG_HEADERS)
    elif rest == "workers-ai/v1/embeddings":
        response = openai_routes.embeddings(request, body)
    elif rest == "compat/chat/completions":
        provider, _, model = str(body.get("model", "")).partition("/")
        if provider not in PROVIDERS:
            return gateway_error(400, 2008, "Invalid provider")
        if provider == "workers-ai":
            response = await openai_routes.chat_completions(request, {**body, "model": model}, headers=LOG_HEADERS)
        else:
            response = await openai_routes.chat_completions(request, body, str(body["model"]), LOG_HEADERS)
    elif rest.startswith("workers-ai/"):
        response = await native_routes.answer(request, rest[len("workers-ai/") :], LOG_HEADERS)
    else:
        return gateway_error(404, 2001, "No such gateway route")
    if not response.prepared:
        response.headers.update(LOG_HEADERS)
    return response
