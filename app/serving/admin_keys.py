"""The named keys over HTTP (`/admin/keys`, PROXY_ADMIN_KEY): what `workers-ai-proxy keys` does, for a team's
tooling. A key is shown once, in the reply that makes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from app.errors import InvalidRequest, NotFound
from app.policies.ledger import UsageLedger
from app.protocol.admin import KeyCreateRequest
from app.stores.keys import KeyRecord, KeyStore, ModelLimit, key_hash, new_key
from app.stores.usage import UsageStore
from app.utc import day_start


class AdminKeys:
    def __init__(
        self, keys: KeyStore, usage: UsageStore, ledger: UsageLedger, changed: Callable[[], None] = lambda: None
    ) -> None:
        self.keys, self.usage, self.ledger = keys, usage, ledger
        self._changed = changed  # this replica's guard hears of a key made or revoked here at once

    async def create(self, request: KeyCreateRequest, now: float) -> dict[str, Any]:
        key = new_key()
        record = KeyRecord(
            request.name,
            key_hash(key),
            tuple(request.models),
            request.rpm,
            request.tpm,
            request.daily_neurons,
            request.monthly_neurons,
            request.expires,
            created=now,
            daily_tokens=request.daily_tokens,
            monthly_tokens=request.monthly_tokens,
            model_limits=tuple(ModelLimit(m.pattern, m.rpm, m.tpm) for m in request.model_limits),
        )
        try:
            await self.keys.create(record)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="name", code="key_exists", status=409) from None
        self._changed()
        return {"key": key, **_shown(record, now)}

    async def list(self, now: float) -> dict[str, Any]:
        await self.ledger.flush()
        usage = {row["key"]: row for row in await self.usage.totals(day_start(now), now + 1, ("key",))}
        data = []
        for record in await self.keys.all():
            row = usage.get(record.name, {})
            today_usage = {"requests": row.get("requests", 0), "neurons": row.get("neurons", 0.0)}
            data.append({**_shown(record, now), "usage_today": today_usage})
        return {"object": "list", "data": data}

    async def revoke(self, name: str, now: float) -> dict[str, Any]:
        if not await self.keys.revoke(name):
            raise NotFound(f"No key named {name!r} is in force.", param="name", code="key_not_found")
        self._changed()
        return {"name": name, "object": "key", "revoked": True}


def _shown(record: KeyRecord, now: float) -> dict[str, Any]:
    """A record as the admin API shows it: never the key, nor its hash."""
    shown = asdict(record)
    del shown["key_hash"]
    shown["models"] = list(record.models)
    shown["model_limits"] = [asdict(limit) for limit in record.model_limits]
    expired = record.expires is not None and record.expires <= now
    shown["state"] = "revoked" if record.revoked else "expired" if expired else "active"
    return {"object": "key", **shown}
