"""Application wiring: settings in, FastAPI app out. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Route

from app import __version__
from app.api import ENDPOINTS
from app.api.errors import install_error_handlers
from app.api.openapi import install_openapi
from app.api.redaction import Secrets
from app.api.request_id import with_request_id
from app.api.services import Services
from app.auth import ClientAuth
from app.calls import Calls
from app.catalog import Catalog
from app.catalogue_source import catalogue_page
from app.drain import Drain
from app.emulator import EMULATOR_ACCOUNT, EMULATOR_TOKEN
from app.model_catalogue import ModelCatalogue
from app.proxy import Proxy
from app.resilience.breaker import Breakers
from app.resilience.limiter import ConcurrencyLimit
from app.resilience.retry import RetryPolicy
from app.server.limits import ConnectionLimits
from app.server.warden import STATE_KEY as WARDEN_KEY
from app.server.warden import ConnectionWarden
from app.settings import Settings, load_settings
from app.upstream.addresses import AddressPolicy, is_public
from app.upstream.client import UpstreamClient
from app.upstream.fetch import ImageFetcher
from app.upstream.targets import Targets
from app.upstream.transport import AiohttpTransport

log = logging.getLogger("workers_ai_proxy")


def create_app(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    image_policy: AddressPolicy = is_public,
) -> FastAPI:
    """Build the app. Seams for tests: `transport` puts an `httpx.MockTransport` in place of the network;
    `image_policy` says which addresses image URLs may reach (public ones only, unless a test says which
    loopback addresses to treat as public)."""
    server_token = settings.cloudflare_api_token.get_secret_value() if settings.cloudflare_api_token else None
    if settings.proxy_emulator and server_token is None:
        server_token = EMULATOR_TOKEN
    client_keys = [key.get_secret_value() for key in settings.proxy_api_keys]
    gateway_token = settings.cloudflare_gateway_token.get_secret_value() if settings.cloudflare_gateway_token else None
    secrets = Secrets(tuple(filter(None, [server_token, gateway_token])), tuple(client_keys))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            loop = asyncio.get_running_loop()
            warden = ConnectionWarden(ConnectionLimits.from_settings(settings), loop.time)
            warden.start(loop)
            stack.callback(warden.stop)
            client = UpstreamClient(
                transport or AiohttpTransport.create(),
                connect_timeout=settings.proxy_connect_timeout,
                read_timeout=settings.proxy_first_byte_timeout,
                max_reply_bytes=settings.proxy_max_reply_bytes,
            )
            stack.push_async_callback(client.aclose)
            if settings.proxy_emulator:
                from app.emulator.server import start_emulator  # aiohttp.web: imported only when used

                emulator = await stack.enter_async_context(
                    start_emulator(settings.proxy_emulator_token_delay_ms / 1000)
                )
                targets = Targets(emulator.api_base, EMULATOR_ACCOUNT)
                log.warning("EMULATOR MODE: answers are emulated; no Cloudflare account is used.")
            else:
                assert settings.cloudflare_account_id is not None  # Settings refuses to exist without it
                targets = Targets(
                    settings.cloudflare_api_base,
                    settings.cloudflare_account_id,
                    settings.cloudflare_gateway_base,
                    settings.cloudflare_gateway_id,
                    gateway_token,
                )
            images = ImageFetcher(
                settings.proxy_image_max_bytes,
                settings.proxy_image_fetch_timeout,
                allow_private=settings.proxy_image_allow_private_urls,
                policy=image_policy,
            )
            stack.push_async_callback(images.aclose)
            kinds = {name: model.upstream for name, model in settings.models.items() if model.upstream}
            catalog = Catalog(settings.proxy_model_aliases, settings.proxy_upstream, kinds)
            fetch_page = partial(catalogue_page, client, targets, server_token) if server_token else None
            models = ModelCatalogue(fetch_page, settings.proxy_models_ttl)
            stack.push_async_callback(models.aclose)
            models.refresh_in_background()
            calls = Calls(
                client,
                targets,
                RetryPolicy(settings.proxy_max_retries, settings.proxy_retry_base_delay),
                Breakers(settings.proxy_breaker_threshold, settings.proxy_breaker_cooldown),
                ConcurrencyLimit(settings.proxy_max_concurrency, settings.proxy_queue_timeout),
                first_byte=settings.proxy_first_byte_timeout,
                idle=settings.proxy_idle_timeout,
                max_event_bytes=settings.proxy_max_stream_event_bytes,
            )
            proxy = Proxy(settings, calls, catalog, models, images.fetch)
            drain = Drain(settings.proxy_drain_timeout)
            stack.callback(drain.install_signal_hook())
            app.state.services = Services(
                proxy=proxy,
                auth=ClientAuth(client_keys, server_token),
                emulated=settings.proxy_emulator,
                gateway_defaults=settings.proxy_gateway_headers,
                uses_gateway=targets.has_gateway,
                drain=drain,
                max_body_bytes=settings.proxy_max_body_bytes,
                secrets=secrets,
            )
            gc.collect()
            gc.freeze()  # start-up objects (FastAPI, pydantic schemas) leave the collector's full scans
            yield {WARDEN_KEY: warden}  # the lifespan state: uvicorn hands it to each connection's protocol

    app = FastAPI(
        title="workers-ai-proxy",
        version=__version__,
        summary="OpenAI-compatible API for Cloudflare Workers AI",
        lifespan=lifespan,
        redoc_url=None,
        **_without_telemetry(),
    )
    install_error_handlers(app, secrets)
    # First in the route list: every request is matched against the routes in order.
    app.router.routes[:0] = [
        Route(path, with_request_id(endpoint.handler), methods=[endpoint.method], include_in_schema=False)
        for endpoint in ENDPOINTS
        for path in (endpoint.path, *endpoint.also_at)
    ]
    install_openapi(app, ENDPOINTS)
    return app


def _without_telemetry() -> dict[str, Any]:
    """Newer FastAPI releases carry native OpenTelemetry that looks up the global providers on every
    request (~30 us measured here) and would record exception messages; the proxy exports none."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


def create_app_from_env() -> FastAPI:
    """uvicorn factory used by the console script: settings come from env, .env and the config file."""
    return create_app(load_settings())
