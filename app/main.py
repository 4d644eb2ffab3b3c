"""Application wiring: settings in, FastAPI app out. Nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from app import __version__
from app.api import BODY_MODELS, ROUTERS
from app.api.errors import install_error_handlers
from app.api.services import Services
from app.auth import ClientAuth
from app.catalog import Catalog
from app.emulator import EMULATOR_ACCOUNT, EMULATOR_TOKEN, start_emulator
from app.proxy import Proxy
from app.settings import Settings, load_settings
from app.upstream.client import create_http_client
from app.upstream.targets import WorkersAITarget

log = logging.getLogger("workers_ai_proxy")


def create_app(settings: Settings, http_client: httpx.AsyncClient | None = None) -> FastAPI:
    """Build the app; `http_client` lets tests inject a transport (the app then leaves it open)."""
    server_token = settings.cloudflare_api_token.get_secret_value() if settings.cloudflare_api_token else None
    if settings.proxy_emulator and server_token is None:
        server_token = EMULATOR_TOKEN
    client_keys = [key.get_secret_value() for key in settings.proxy_api_keys]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            client = http_client
            if client is None:
                client = await stack.enter_async_context(
                    create_http_client(settings.proxy_connect_timeout, settings.proxy_first_byte_timeout)
                )
            if settings.proxy_emulator:
                emulator = await stack.enter_async_context(
                    start_emulator(settings.proxy_emulator_token_delay_ms / 1000)
                )
                target = WorkersAITarget(emulator.api_base, EMULATOR_ACCOUNT)
                log.warning("EMULATOR MODE: answers are emulated; no Cloudflare account is used.")
            else:
                assert settings.cloudflare_account_id is not None  # Settings refuses to exist without it
                target = WorkersAITarget(settings.cloudflare_api_base, settings.cloudflare_account_id)
            proxy = Proxy(settings, client, target, Catalog(settings.proxy_model_aliases))
            app.state.services = Services(
                proxy=proxy, auth=ClientAuth(client_keys, server_token), emulated=settings.proxy_emulator
            )
            yield

    app = FastAPI(
        title="workers-ai-proxy",
        version=__version__,
        summary="OpenAI-compatible API for Cloudflare Workers AI",
        lifespan=lifespan,
        redoc_url=None,
    )
    secrets = tuple(filter(None, [server_token, *client_keys]))
    install_error_handlers(app, secrets)
    for router in ROUTERS:
        app.include_router(router)
    _document_bodies(app)
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn factory used by the console script: settings come from env, .env and the config file."""
    return create_app(load_settings())


def _document_bodies(app: FastAPI) -> None:
    """Routers parse bodies themselves (orjson); publish their schemas in the OpenAPI document."""
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in BODY_MODELS:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override point
