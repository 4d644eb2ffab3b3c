"""The models an account can use: `/ai/models/search` (paged), cached for a TTL, refreshed in the background.

When the token may not list models (or Cloudflare cannot be reached) a bundled list built from what the proxy
knows of each model serves instead, and says so. The catalogue also knows each model's task, which lets the
proxy refuse a chat request to an embeddings model (and the reverse) before any upstream call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.errors import ProxyError
from app.models.capabilities import UNKNOWN, capabilities_of
from app.models.embedding import EMBEDDING_MODELS
from app.models.known import CHAT, CURRENT, EMBEDDINGS, KnownModel

log = logging.getLogger("workers_ai_proxy")

__all__ = ["CHAT", "EMBEDDINGS", "CatalogueEntry", "ModelCatalogue"]
BUNDLED_CREATED = 1735689600  # 2025-01-01: the bundled list has no dates of its own

FetchPage = Callable[[int], Awaitable[tuple[list[Any], dict[str, Any]]]]  # page number -> (models, result_info)


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    id: str
    task: str
    created: int = BUNDLED_CREATED
    description: str | None = None
    context_window: int | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)  # tools, json, vision, reasoning: where known
    requires_workers_paid: bool | None = None
    async_queue: bool | None = None
    pricing: list[dict[str, Any]] | None = None  # as the catalogue gives it: [{unit, price, currency}]
    shutdown_date: str | None = None  # the catalogue's planned_deprecation_date

    def openai(self, alias_for: str | None = None) -> dict[str, Any]:
        model: dict[str, Any] = {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": owner(alias_for or self.id),
            "task": self.task,
        }
        if alias_for is not None:
            model["alias_for"] = alias_for
        if self.context_window is not None:
            model["context_window"] = self.context_window
        if self.capabilities:
            model["capabilities"] = dict(self.capabilities)
        if self.requires_workers_paid is not None:
            model["requires_workers_paid"] = self.requires_workers_paid
        if self.async_queue is not None:
            model["async_queue"] = self.async_queue
        if self.pricing:
            model["pricing"] = self.pricing
        if self.shutdown_date is not None:
            model["shutdown_date"] = self.shutdown_date  # OpenAI's own field for it
        if self.description:
            model["description"] = self.description
        return model


def owner(model_id: str) -> str:
    """`@cf/meta/llama-3.3-70b-instruct-fp8-fast` -> `meta`."""
    parts = model_id.split("/")
    return parts[1] if len(parts) > 2 else "cloudflare"


class ModelCatalogue:
    PER_PAGE = 100
    MAX_PAGES = 50
    RETRY_AFTER = 300.0

    def __init__(self, fetch_page: FetchPage | None, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch_page = fetch_page  # None: the proxy has no token of its own to list models with
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, CatalogueEntry] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._bundled = {entry.id: entry for entry in bundled_entries()}

    @property
    def source(self) -> str:
        """`account` once the account's list was read, `bundled` until then (or when it cannot be)."""
        return "account" if self._fetched_at is not None else "bundled"

    async def entries(self) -> list[CatalogueEntry]:
        """The list: the cached one while fresh; a stale one is served while a refresh runs behind it."""
        if self._fetched_at is None:
            if not self._recently_failed():
                await self._refresh_now()
        elif self._clock() - self._fetched_at > self._ttl:
            self.refresh_in_background()
        return list((self._entries or self._bundled).values())

    def task_of(self, model_id: str) -> str | None:
        """What the model does, from what is known right now (no I/O)."""
        entry = self.entry(model_id)
        return entry.task if entry is not None else None

    def entry(self, model_id: str) -> CatalogueEntry | None:
        """What is known of a model right now (no I/O): the account's entry, else the bundled one."""
        return self._entries.get(model_id) or self._bundled.get(model_id)

    def pricing(self, model_id: str) -> list[dict[str, Any]] | None:
        """The model's `price` entries, when the catalogue has any (media are priced from them)."""
        entry = self.entry(model_id)
        return entry.pricing if entry is not None else None

    def known_ids(self) -> list[str]:
        return list(self._entries or self._bundled)

    def refresh_in_background(self) -> None:
        if self._fetch_page is not None and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_now())

    async def aclose(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)

    async def _refresh_now(self) -> None:
        if self._fetch_page is None:
            return
        try:
            models = await self._all_pages(self._fetch_page)
        except ProxyError as exc:
            self._failed_at = self._clock()
            log.warning("model catalogue not read (%s); serving the bundled list", exc.message)
            return
        entries = {entry.id: entry for entry in (entry_from_search(m) for m in models) if entry is not None}
        if entries:
            self._entries = entries
            self._fetched_at = self._clock()

    def _recently_failed(self) -> bool:
        # a token that may not list models is not asked again on every request
        return self._failed_at is not None and self._clock() - self._failed_at < min(self._ttl, self.RETRY_AFTER)

    async def _all_pages(self, fetch_page: FetchPage) -> list[Any]:
        models: list[Any] = []
        for page in range(1, self.MAX_PAGES + 1):
            chunk, info = await fetch_page(page)
            models.extend(chunk)
            total = info.get("total_count")
            per_page = info.get("per_page") or len(chunk)
            if not chunk or len(chunk) < per_page or (isinstance(total, int) and len(models) >= total):
                break
        return models


def entry_from_search(model: Any) -> CatalogueEntry | None:
    """One `/ai/models/search` object -> an entry (wire spec 5.1, 9.13); None when it names no model. What the
    catalogue says of a capability wins; the proxy's own knowledge fills in what it does not say."""
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return None
    name = model["name"]
    task = model.get("task", {}).get("name") if isinstance(model.get("task"), dict) else None
    properties = {p.get("property_id"): p.get("value") for p in model.get("properties") or [] if isinstance(p, dict)}
    capabilities = _capabilities(name, task)
    for capability, property_id in (("tools", "function_calling"), ("vision", "vision"), ("reasoning", "reasoning")):
        said = _flag(properties.get(property_id))
        if said is not None:
            capabilities[capability] = said
    deprecation = properties.get("planned_deprecation_date")
    return CatalogueEntry(
        id=name,
        task=task or "unknown",
        created=_epoch(model.get("created_at")),
        description=model.get("description") if isinstance(model.get("description"), str) else None,
        context_window=_int(properties.get("context_window")),
        capabilities=capabilities,
        requires_workers_paid=_flag(properties.get("require_workers_paid")),
        async_queue=_flag(properties.get("async_queue")),
        pricing=_pricing(properties.get("price")),
        shutdown_date=str(deprecation)[:10] if isinstance(deprecation, str) and deprecation else None,
    )


def bundled_entries() -> Iterable[CatalogueEntry]:
    for model_id, known in CURRENT.items():
        yield CatalogueEntry(
            id=model_id,
            task=known.task,
            context_window=known.context_window,
            capabilities=_capabilities(model_id, known.task),
            requires_workers_paid=known.paid or None,
        )
    for model_id in EMBEDDING_MODELS:
        if model_id not in CURRENT:
            yield CatalogueEntry(id=model_id, task=EMBEDDINGS)


def _capabilities(model_id: str, task: str | None) -> dict[str, bool]:
    if task != CHAT:
        return {}
    known: KnownModel | None = CURRENT.get(model_id)
    if known is not None:
        return {"tools": known.tools, "json": True, "vision": known.vision, "reasoning": known.reasoning}
    traits = capabilities_of(model_id)
    if traits is UNKNOWN:
        return {}
    legacy = traits.tools == "none" and traits.string_content  # 2023-era models: no JSON mode either
    capabilities = {"tools": traits.tools != "none", "json": not legacy}
    if traits.vision is not None:
        capabilities["vision"] = traits.vision
    return capabilities


def _flag(value: Any) -> bool | None:
    """Catalogue booleans are the strings "true" / "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _pricing(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    prices = [
        {key: item[key] for key in ("unit", "price", "currency") if key in item}
        for item in value
        if isinstance(item, dict) and "price" in item
    ]
    return prices or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> int:
    if not isinstance(value, str):
        return BUNDLED_CREATED
    try:
        return int(dt.datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=dt.UTC).timestamp())
    except ValueError:
        return BUNDLED_CREATED
