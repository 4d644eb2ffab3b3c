"""Budgets in neurons: a named key's daily and monthly ones (`--daily-neurons`, `--monthly-neurons`) and the account's
daily guard (`PROXY_DAILY_NEURONS`, e.g. 10000 to stay inside Workers AI's free allocation). Days and months are
UTC, as Workers AI resets at 00:00 UTC.

Before the call the request's worst case (every token it may use at the model's dearer rate) is reserved against
each budget that applies; over one, the request is a 429 `insufficient_quota` naming it, with `Retry-After` to its
reset. When the request settles, the reservation becomes what it really cost. What was spent before a restart is
read back from the usage ledger the first time a budget is used in a period.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.errors import QuotaExhausted
from app.exchange import Exchange
from app.models.prices import Rate, neurons, worst_case
from app.stores.usage import UsageStore

HOLD = "budgets"  # the exchange's hold: ([(scope, period), ...], neurons reserved)
REMAINING_HEADER = "x-budget-remaining-neurons"
ACCOUNT = "account"


class Budgets:
    """Both an admission and a settlement hook."""

    __slots__ = ("_daily", "_rate", "_spent", "_store", "_wall")

    def __init__(
        self, store: UsageStore, daily_neurons: int | None, rate: Callable[[str], Rate], wall: Callable[[], float]
    ) -> None:
        self._store, self._daily, self._rate, self._wall = store, daily_neurons, rate, wall
        self._spent: dict[tuple[str, str], float] = {}  # (scope, period) -> neurons spent and reserved

    async def admit(self, exchange: Exchange) -> None:
        identity, route = exchange.identity, exchange.route
        if identity is None or route is None:
            return
        access = identity.access
        now = datetime.fromtimestamp(self._wall(), UTC)
        day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
        budgets: list[tuple[str, str, int, str, datetime]] = []  # scope, period, limit, what it is, reset
        next_day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        if access is not None and access.daily_neurons is not None:
            budgets.append(("key:" + identity.name, day, access.daily_neurons, "the key's daily budget", next_day))
        if access is not None and access.monthly_neurons is not None:
            next_month = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
            budgets.append(
                ("key:" + identity.name, month, access.monthly_neurons, "the key's monthly budget", next_month)
            )
        if self._daily is not None:
            budgets.append((ACCOUNT, day, self._daily, "the account's daily budget (PROXY_DAILY_NEURONS)", next_day))
        if not budgets:
            return
        reserve = worst_case(self._rate(route.model_id), exchange.token_estimate)
        for scope, period, *_ in budgets:
            await self._load(scope, period)
        # from here on nothing awaits: checking and reserving are one step
        remaining = math.inf
        for scope, period, limit, what, reset in budgets:
            spent = self._spent[(scope, period)]
            if spent + reserve > limit:
                wait = max(1, math.ceil(reset.timestamp() - now.timestamp()))
                raise QuotaExhausted(
                    f"Over {what}: {limit} neurons, {spent:.0f} spent, this request may cost up to {reserve:.0f}. "
                    f"It resets at {reset.strftime('%Y-%m-%d %H:%M')} UTC.",
                    headers={"Retry-After": str(wait), REMAINING_HEADER: str(max(0, math.floor(limit - spent)))},
                )
            remaining = min(remaining, limit - spent - reserve)
        for scope, period, *_ in budgets:
            self._spent[(scope, period)] += reserve
        exchange.holds[HOLD] = ([(scope, period) for scope, period, *_ in budgets], reserve)
        if access is not None and (access.daily_neurons is not None or access.monthly_neurons is not None):
            exchange.reply_headers[REMAINING_HEADER] = str(max(0, math.floor(remaining)))

    async def settle(self, exchange: Exchange) -> None:
        hold = exchange.holds.pop(HOLD, None)
        if hold is None:
            return
        periods, reserved = hold
        served = exchange.model_served
        cost = neurons(self._rate(served), exchange.usage) if served is not None else 0.0
        for period in periods:
            self._spent[period] = self._spent.get(period, 0.0) + cost - reserved

    async def _load(self, scope: str, period: str) -> None:
        """The first use of a budget in a period starts from what the ledger already holds (a restart)."""
        if (scope, period) in self._spent:
            return
        start = datetime.strptime(period + ("-01" if len(period) == 7 else ""), "%Y-%m-%d").replace(tzinfo=UTC)
        spent = await self._store.spent(None if scope == ACCOUNT else scope.removeprefix("key:"), start.timestamp())
        self._spent.setdefault((scope, period), spent)
