"""GET /v1/usage: the ledger's totals over a period, grouped by key, model, day and/or endpoint."""

from __future__ import annotations

from typing import Any

from app.errors import InvalidRequest
from app.policies.ledger import UsageLedger
from app.stores.usage import GROUPS, UsageStore
from app.utc import day_start, moment


class UsageReport:
    def __init__(self, ledger: UsageLedger, store: UsageStore) -> None:
        self.ledger, self.store = ledger, store

    async def totals(self, start: str | None, end: str | None, group_by: str | None, now: float) -> dict[str, Any]:
        """`start` / `end`: dates (2026-11-01, UTC), date-times or Unix seconds; by default today (UTC) so far."""
        begin = _moment(start, "start") if start else day_start(now)
        finish = _moment(end, "end") if end else now + 1
        groups = tuple(g.strip() for g in (group_by or "").split(",") if g.strip())
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            raise InvalidRequest(f"group_by takes {', '.join(GROUPS)}; not {', '.join(unknown)}.", param="group_by")
        await self.ledger.flush()  # what settled a moment ago counts
        rows = await self.store.totals(begin, finish, groups)
        return {"object": "list", "start": begin, "end": finish, "group_by": list(groups), "data": rows}


def _moment(text: str, param: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return moment(text)
    except ValueError:
        raise InvalidRequest(f"`{param}` is a date (2026-11-01), a date-time or Unix seconds.", param=param) from None
