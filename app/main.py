"""Application wiring: settings in, FastAPI app out. Nothing is built at import time.

The seams a test or an embedding program can replace are parameters of `create_app`; everything else is built
from the settings in the lifespan.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Route

from app import __version__
from app.api import OPERATIONS
from app.api.errors import install_error_handlers
from app.api.observed import observed
from app.api.openapi import install_openapi
from app.api.redaction import Secrets, scrub
from app.api.repeat_hits import ProxyApp, RepeatHits
from app.api.state import AppState
from app.drain import Drain
from app.embeddings.batches import InputLimits
from app.emulator import EMULATOR_ACCOUNT, EMULATOR_TOKEN
from app.models.catalogue import ModelCatalogue
from app.models.prices import Rate, rate_of
from app.observe.access_log import AccessLog
from app.observe.access_log import flush as flush_access_log
from app.observe.metrics import Metrics, multiprocess_dir
from app.observe.observer import Observer, Observers
from app.observe.traces import from_environment
from app.pipeline.core import Hooks, Pipeline
from app.pipeline.pacing import Pacer
from app.pipeline.upstream_call import ResilientClient, StreamTimeouts
from app.policies.cache import ReplyCache
from app.policies.hooks import Admission, Settlement
from app.policies.identity import IdentityGuard, KeyGuard
from app.policies.ledger import UsageLedger
from app.policies.model_access import ModelAccess
from app.policies.named_keys import NamedKeys
from app.policies.quotas import Quotas
from app.resilience.breaker import BreakerBoard, Breakers
from app.resilience.limiter import ConcurrencyLimit, Gate
from app.resilience.retry import RetryPolicy
from app.routing.resolver import Router
from app.server.limits import ConnectionLimits
from app.server.warden import STATE_KEY as WARDEN_KEY
from app.server.warden import ConnectionWarden
from app.serving import (
    Audio,
    ChatCompletions,
    Classify,
    Completions,
    Embeddings,
    GatewayLogs,
    Images,
    Messages,
    Models,
    Responses,
    Serving,
)
from app.serving.admin_keys import AdminKeys
from app.serving.chat import ChatLimits
from app.serving.readiness import Readiness
from app.serving.usage import UsageReport
from app.settings import Settings, load_settings
from app.stores.cache import CacheStore, MemoryCache
from app.stores.cache_file import cache_path
from app.stores.cache_file import load as load_cache
from app.stores.cache_file import save as save_cache
from app.stores.image_files import ImageFiles
from app.stores.keys import KeyStore
from app.stores.quotas import MemoryQuotas, QuotaStore
from app.stores.responses import MemoryResponseStore, ResponseStore
from app.stores.sqlite import SQLiteState
from app.stores.usage import UsageStore
from app.upstream.addresses import AddressPolicy, is_public
from app.upstream.catalogue_pages import catalogue_page
from app.upstream.client import UpstreamClient
from app.upstream.fetch import ImageFetcher
from app.upstream.targets import Targets
from app.upstream.transport import AiohttpTransport

log = logging.getLogger("workers_ai_proxy")
EXAMPLE_PACED_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # paced when the published rates apply at all


@dataclass(frozen=True, slots=True)
class Seams:
    """What `create_app` lets a caller replace; each has an in-process default built from the settings."""

    transport: httpx.AsyncBaseTransport | None = None  # e.g. an httpx.MockTransport in place of the network
    image_policy: AddressPolicy = is_public  # which addresses image URLs may reach
    guard: IdentityGuard | None = None  # who the caller is (default: PROXY_API_KEYS / open / pass-through)
    admission: Sequence[Admission] = ()
    settlement: Sequence[Settlement] = ()
    observers: Sequence[Observer] = ()  # beside the metrics and the access log
    gate: Gate | None = None  # the concurrency limit (default: in-process, PROXY_MAX_CONCURRENCY)
    breakers: BreakerBoard | None = None  # default: in-process, PROXY_BREAKER_*
    clock: Callable[[], float] = field(default=time.perf_counter)  # the observers' clock
    wall_clock: Callable[[], float] = field(default=time.time)  # Unix time: rate-limit windows, key expiry, cache TTLs


def _rates(catalogue: ModelCatalogue) -> Callable[[str], Rate]:
    """A model's rate, worked out again only when its catalogue entry changes (settlement asks on every request)."""
    known: dict[str, tuple[object, Rate]] = {}

    def rate(model_id: str) -> Rate:
        entry = catalogue.entry(model_id)
        found = known.get(model_id)
        if found is not None and found[0] is entry:
            return found[1]
        if len(known) >= 4096:
            known.clear()
        made = rate_of(model_id, entry.pricing if entry is not None else None)
        known[model_id] = (entry, made)
        return made

    return rate


def create_app(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    image_policy: AddressPolicy = is_public,
    seams: Seams | None = None,
) -> FastAPI:
    """Build the app. `transport` and `image_policy` are shorthands for the seams of the same name."""
    seams = seams or Seams()
    transport = transport or seams.transport
    if image_policy is not is_public:
        seams = Seams(**{**_fields(seams), "image_policy": image_policy})
    server_token = settings.cloudflare_api_token.get_secret_value() if settings.cloudflare_api_token else None
    if settings.proxy_emulator and server_token is None:
        server_token = EMULATOR_TOKEN
    client_keys = [key.get_secret_value() for key in settings.proxy_api_keys]
    gateway_token = settings.cloudflare_gateway_token.get_secret_value() if settings.cloudflare_gateway_token else None
    secrets = Secrets(tuple(filter(None, [server_token, gateway_token])), tuple(client_keys))
    repeats = RepeatHits(OPERATIONS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            loop = asyncio.get_running_loop()
            warden = ConnectionWarden(ConnectionLimits.from_settings(settings), loop.time)
            warden.start(loop)
            stack.callback(warden.stop)
            stack.callback(flush_access_log)  # runs last: the lines of the requests served during shutdown
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
                policy=seams.image_policy,
            )
            stack.push_async_callback(images.aclose)
            fetch_page = partial(catalogue_page, client, targets, server_token) if server_token else None
            catalogue = ModelCatalogue(fetch_page, settings.proxy_models_ttl)
            stack.push_async_callback(catalogue.aclose)
            catalogue.refresh_in_background()
            upstream_of = {name: model.upstream for name, model in settings.models.items() if model.upstream}
            router = Router(
                settings.proxy_model_aliases, settings.proxy_upstream, upstream_of, catalogue, settings.proxy_fallbacks
            )
            metrics = Metrics(router.knows, multiprocess_dir()) if settings.proxy_metrics else None
            if metrics is not None:
                metrics.start(loop)
                stack.callback(metrics.stop)
            traces = from_environment()
            if traces is not None and traces.shutdown is not None:
                stack.callback(traces.shutdown)
            scrub_bodies = partial(scrub, secrets=secrets) if settings.proxy_log_bodies else None
            observer = Observers(
                [
                    *([metrics] if metrics is not None else []),
                    AccessLog(json=settings.proxy_log_format == "json", scrub=scrub_bodies),
                    *([traces] if traces is not None else []),
                    *seams.observers,
                ]
            )
            quota_store: QuotaStore = MemoryQuotas(seams.wall_clock)
            response_store: ResponseStore = MemoryResponseStore(
                settings.proxy_responses_max,
                settings.proxy_responses_max_bytes,
                settings.proxy_responses_ttl,
                time.monotonic,
            )
            state = SQLiteState(settings.proxy_state_path)
            stack.callback(state.close)
            key_store: KeyStore = state
            usage_store: UsageStore = state
            memory_cache = MemoryCache(settings.proxy_cache_max_bytes, seams.wall_clock)  # TTLs, as Redis's
            cache_store: CacheStore = memory_cache
            image_store: CacheStore = MemoryCache(settings.proxy_image_files_max_bytes, seams.wall_clock)
            if settings.proxy_redis_url is not None:
                from app.stores.redis_backend import connect  # imported only when used: redis-py is not small

                url = settings.proxy_redis_url.get_secret_value()
                shared = connect(url, quota_store, response_store, state, settings)
                stack.push_async_callback(shared.close)
                quota_store, response_store = shared.quotas, shared.responses
                key_store, usage_store, cache_store = shared.keys, shared.usage, shared.cache
                image_store = shared.cache  # images of `response_format: url`, served by every replica
            elif settings.proxy_cache == "on" and settings.proxy_cache_persist:
                saved = cache_path(settings.proxy_state_path)
                log.info("reply cache: %d entries read back from %s", await load_cache(saved, memory_cache), saved)
                stack.push_async_callback(partial(save_cache, saved, memory_cache))
            pace = functools.lru_cache(maxsize=4096)(settings.upstream_rpm)  # model id -> rpm, decided once
            paced = settings.proxy_upstream_pacing != "off" and (
                any(m.rpm is not None for m in settings.models.values()) or pace(EXAMPLE_PACED_MODEL) is not None
            )
            pacer = Pacer(quota_store, pace, settings.proxy_queue_timeout, seams.wall_clock) if paced else None
            resilient = ResilientClient(
                client,
                targets,
                RetryPolicy(settings.proxy_max_retries, settings.proxy_retry_base_delay),
                seams.breakers
                or Breakers(
                    settings.proxy_breaker_threshold,
                    settings.proxy_breaker_cooldown,
                    on_change=observer.breaker_changed,
                ),
                seams.gate or ConcurrencyLimit(settings.proxy_max_concurrency, settings.proxy_queue_timeout),
                StreamTimeouts(
                    settings.proxy_first_byte_timeout,
                    settings.proxy_idle_timeout,
                    settings.proxy_max_stream_event_bytes,
                ),
                observer,
                seams.clock,
                pacer,
            )
            rates = _rates(catalogue)
            ledger = UsageLedger(usage_store, rates, seams.wall_clock)
            stack.push_async_callback(ledger.close)
            quotas = Quotas(
                quota_store,
                usage_store,
                rates,
                seams.wall_clock,
                rpm=settings.proxy_key_rpm,
                tpm=settings.proxy_key_tpm,
                daily_neurons=settings.proxy_daily_neurons,
            )
            # quotas last: any refusal comes before its reservation, which is all or none
            hooks = Hooks((ModelAccess(), *seams.admission, quotas), (quotas, ledger, *seams.settlement))
            pipeline = Pipeline(settings, router, resilient, targets, catalogue, observer, hooks, seams.clock)
            cache = (
                ReplyCache(
                    cache_store,
                    ttl=settings.proxy_cache_ttl,
                    chat=settings.proxy_cache_chat,
                    scope=settings.proxy_cache_scope,
                )
                if settings.proxy_cache == "on"
                else None
            )
            chat = ChatCompletions(
                pipeline,
                ChatLimits(
                    settings.proxy_max_n,
                    settings.proxy_max_images,
                    settings.proxy_image_max_total_bytes,
                    settings.proxy_image_max_bytes,
                ),
                images.fetch,
                cache,
            )
            serving = Serving(
                chat=chat,
                messages=Messages(chat),
                responses=Responses(chat, response_store),
                completions=Completions(pipeline, settings.proxy_max_n, cache),
                embeddings=Embeddings(
                    pipeline,
                    InputLimits(settings.proxy_embeddings_max_inputs, settings.proxy_embeddings_max_chars),
                    cache,
                ),
                models=Models(pipeline, catalogue, settings.proxy_model_aliases),
                gateway_logs=GatewayLogs(pipeline, client, targets),
                images=Images(
                    pipeline,
                    ImageFiles(image_store, settings.proxy_image_url_ttl),
                    settings.proxy_image_model,
                    settings.proxy_max_n,
                    settings.proxy_image_max_bytes,
                ),
                audio=Audio(pipeline, settings.proxy_transcription_model, settings.proxy_speech_model),
                classify=Classify(pipeline),
            )
            named_keys = NamedKeys(key_store, time.monotonic)
            drain = Drain(settings.proxy_drain_timeout, on_abort=observer.drain_aborted)
            stack.callback(drain.install_signal_hook())
            app.state.proxy = AppState(
                serving=serving,
                pipeline=pipeline,
                guard=seams.guard or KeyGuard(client_keys, server_token, named_keys, seams.wall_clock),
                emulated=settings.proxy_emulator,
                gateway_defaults=settings.proxy_gateway_headers,
                uses_gateway=targets.has_gateway,
                drain=drain,
                max_body_bytes=settings.proxy_max_body_bytes,
                max_audio_bytes=settings.proxy_audio_max_bytes,
                secrets=secrets,
                readiness=Readiness(
                    partial(catalogue_page, client, targets, server_token) if server_token else None,
                    settings.proxy_ready_ttl,
                    time.monotonic,
                ),
                metrics=metrics,
                log_bodies=settings.proxy_log_bodies,
                admin_key=settings.proxy_admin_key.get_secret_value() if settings.proxy_admin_key else None,
                usage=UsageReport(ledger, usage_store),
                admin_keys=AdminKeys(key_store, usage_store, ledger, named_keys.changed),
            )
            repeats.enable(app.state.proxy, cache)
            stack.callback(repeats.enable, None, None)
            gc.collect()
            gc.freeze()  # start-up objects (FastAPI, pydantic schemas) leave the collector's full scans
            yield {WARDEN_KEY: warden}  # the lifespan state: uvicorn hands it to each connection's protocol

    app = ProxyApp(
        title="workers-ai-proxy",
        version=__version__,
        summary="OpenAI-compatible API for Cloudflare Workers AI",
        lifespan=lifespan,
        redoc_url=None,
        **_without_telemetry(),
    )
    app.repeats = repeats
    install_error_handlers(app, secrets)
    # First in the route list: every request is matched against the routes in order.
    app.router.routes[:0] = [
        Route(path, observed(operation), methods=[operation.method], include_in_schema=False)
        for operation in OPERATIONS
        for path in (operation.path, *operation.also_at)
    ]
    install_openapi(app, OPERATIONS)
    return app


def _fields(seams: Seams) -> dict[str, Any]:
    return {name: getattr(seams, name) for name in Seams.__dataclass_fields__}


def _without_telemetry() -> dict[str, Any]:
    """Newer FastAPI releases carry native OpenTelemetry that looks up the global providers on every
    request (~30 us measured here) and would record exception messages; the proxy exports its own."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


def create_app_from_env() -> FastAPI:
    """uvicorn factory used by the console script: settings come from env, .env and the config file."""
    return create_app(load_settings())
