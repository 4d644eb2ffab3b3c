"""The emulator's HTTP side on a loopback port: Workers AI's routes under `/client/v4/accounts/{account}/ai/`, the
account's API beside them, and AI Gateway under `/gateway/v1/{account}/{gateway}/`, playing a `World`; with a
`Script`, tests queue exact replies and read what was asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from app.emulator import account_routes, gateway_routes, native_routes, openai_routes
from app.emulator.generate import DELAY_KEY
from app.emulator.replies import envelope_error
from app.emulator.script import SCRIPT_KEY, Script
from app.emulator.world import WORLD_KEY, World

ACCOUNT = "/client/v4/accounts/{account}"


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    api_base: str  # e.g. http://127.0.0.1:41234/client/v4
    gateway_base: str  # e.g. http://127.0.0.1:41234/gateway/v1


def build_app(world: World | None = None, script: Script | None = None, token_delay: float = 0.02) -> web.Application:
    app = web.Application(middlewares=[script.middleware] if script is not None else [])
    app[DELAY_KEY] = token_delay
    app[WORLD_KEY] = world or World()
    if script is not None:
        app[SCRIPT_KEY] = script
    router = app.router
    router.add_post(ACCOUNT + "/ai/run/{model:.+}", native_routes.run_model)
    router.add_post(ACCOUNT + "/ai/v1/chat/completions", openai_routes.chat_route)
    router.add_post(ACCOUNT + "/ai/v1/embeddings", openai_routes.embeddings_route)
    router.add_get(ACCOUNT + "/ai/models/search", account_routes.search_models)
    router.add_get("/client/v4/user/tokens/verify", account_routes.verify_token)
    router.add_get(ACCOUNT + "/tokens/verify", account_routes.verify_token)
    router.add_get(ACCOUNT + "/ai-gateway/gateways/{gateway}", account_routes.gateway)
    router.add_route("GET", ACCOUNT + "/ai-gateway/gateways/{gateway}/logs/{log_id}", account_routes.gateway_log)
    router.add_route("PATCH", ACCOUNT + "/ai-gateway/gateways/{gateway}/logs/{log_id}", account_routes.gateway_log)
    router.add_post("/gateway/v1/{account}/{gateway}/{rest:.+}", gateway_routes.gateway_route)
    router.add_route("*", "/{tail:.*}", no_route)
    return app


async def no_route(request: web.Request) -> web.Response:
    return envelope_error(400, 7000, "No route for that URI")


@asynccontextmanager
async def start_emulator(
    token_delay_seconds: float = 0.02, world: World | None = None, script: Script | None = None, port: int = 0
) -> AsyncIterator[RunningEmulator]:
    runner = web.AppRunner(build_app(world, script, token_delay_seconds), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield RunningEmulator(f"http://127.0.0.1:{bound}/client/v4", f"http://127.0.0.1:{bound}/gateway/v1")
    finally:
        await runner.cleanup()
