"""The Cloudflare account the emulator plays: who may call it, which gateway exists, which models it serves and
what its catalogue says. `--emulator` plays a lenient one (any account, any token); tests play a strict one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from app.emulator.models import EMBEDDING_DIMENSIONS, MEDIA_MODELS, TEXT_GENERATION_MODELS, catalogue_properties


@dataclass
class World:
    account: str | None = None  # None: any account id is this one
    token: str | None = None  # None: any bearer token is accepted
    gateway: str | None = None  # None: any gateway id exists
    gateway_token: str | None = None  # set: gateway routes demand it in cf-aig-authorization
    catalogue: list[dict[str, Any]] | None = None  # /ai/models/search entries; None: the models served
    chat_models: Callable[[str], bool] = TEXT_GENERATION_MODELS.__contains__  # which chat models answer
    embedding_dimensions: dict[str, int] = field(default_factory=lambda: dict(EMBEDDING_DIMENSIONS))
    feedback: dict[str, Any] = field(default_factory=dict)  # gateway log id -> the last PATCH body

    def authorized(self, request: web.Request) -> bool:
        sent = request.headers.get("Authorization", "")
        return sent == f"Bearer {self.token}" if self.token is not None else sent.startswith("Bearer ")

    def is_account(self, account: str) -> bool:
        return self.account is None or account == self.account

    def is_gateway(self, gateway: str) -> bool:
        return self.gateway is None or gateway == self.gateway

    def gateway_authorized(self, request: web.Request) -> bool:
        return self.gateway_token is None or request.headers.get("cf-aig-authorization") == (
            f"Bearer {self.gateway_token}"
        )

    def catalogue_entries(self) -> list[dict[str, Any]]:
        if self.catalogue is not None:
            return self.catalogue
        names = [(m, "Text Generation") for m in sorted(TEXT_GENERATION_MODELS)]
        names += [(m, "Text Embeddings") for m in sorted(self.embedding_dimensions)]
        names += sorted(MEDIA_MODELS.items())
        return [
            {
                "name": name,
                "description": "emulated",
                "task": {"name": task},
                "created_at": "2025-01-01 00:00:00",
                "properties": catalogue_properties(name),
            }
            for name, task in names
        ]


WORLD_KEY = web.AppKey("world", World)
