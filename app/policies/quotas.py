"""Rate limits and budgets, per key, decided in one step before any upstream call (one round trip on a shared
backend) and reconciled to what the request really used when it settles (a stream when it ends; a client that left:
what was generated; a failure: nothing), so that no reservation leaks.

- Requests and tokens per minute: a named key's own limits, else PROXY_KEY_RPM / PROXY_KEY_TPM. Tokens reserved:
  the prompt (estimated) and the token budget. Replies carry OpenAI's `x-ratelimit-*` headers; over a limit: 429
  `rate_limit_exceeded` with `Retry-After`.
- Budgets in neurons: a named key's daily and monthly ones and the account's daily guard (PROXY_DAILY_NEURONS),
  UTC days and months as Workers AI resets at 00:00 UTC. Reserved: the request's worst case (every token at the
  model's dearer rate); over one: 429 `insufficient_quota` naming it, `Retry-After` to its reset. What was spent
  before a restart seeds a budget's counter from the usage ledger.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.errors import ProxyError, QuotaExhausted, RateLimited
from app.exchange import Exchange
from app.models.prices import Rate, neurons, worst_case
from app.stores.quotas import Ask, QuotaStore
from app.stores.usage import UsageStore

WINDOW_SECONDS = 60
HOLD = "quotas"  # the exchange's hold: [(counter, "tokens" | "neurons", reserved), ...]
REMAINING_HEADER = "x-budget-remaining-neurons"
ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: str  # "key:<name>" or "account"
    period: str  # 2026-11-29 or 2026-11
    limit: int
    what: str
    reset: datetime


class Quotas:
    """Both an admission and a settlement hook."""

    __slots__ = ("_daily", "_ledger", "_rate", "_rpm", "_seeds", "_store", "_tpm", "_wall")

    def __init__(
        self,
        store: QuotaStore,
        ledger: UsageStore,
        rate: Callable[[str], Rate],
        wall: Callable[[], float],
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        daily_neurons: int | None = None,
    ) -> None:
        self._store, self._ledger, self._rate, self._wall = store, ledger, rate, wall
        self._rpm, self._tpm, self._daily = rpm, tpm, daily_neurons
        self._seeds: dict[tuple[str, str], float] = {}  # what the ledger held when a budget was first used

    async def admit(self, exchange: Exchange) -> None:
        identity = exchange.identity
        if identity is None:
            return
        access = identity.access
        rpm = access.rpm if access is not None and access.rpm is not None else self._rpm
        tpm = access.tpm if access is not None and access.tpm is not None else self._tpm
        budgeted = self._daily is not None or (
            access is not None and (access.daily_neurons is not None or access.monthly_neurons is not None)
        )
        if rpm is None and tpm is None and not budgeted:
            return  # the common case without limits: no clock, no dates
        now = self._wall()
        budgets = self._budgets(exchange, now) if budgeted and exchange.route is not None else []
        window = int(now // WINDOW_SECONDS)
        name = identity.name
        tokens = exchange.token_estimate
        asks: list[Ask] = []
        if rpm is not None:
            asks.append(Ask(f"rl:{name}:r:{window}", 1, rpm, 2 * WINDOW_SECONDS))
        if tpm is not None:
            asks.append(Ask(f"rl:{name}:t:{window}", tokens, tpm, 2 * WINDOW_SECONDS))
        reserve = 0.0
        if budgets:
            assert exchange.route is not None
            reserve = worst_case(self._rate(exchange.route.model_id), tokens)
            for budget in budgets:
                seed = await self._seed(budget)
                ttl = int(budget.reset.timestamp() - now) + 86_400
                asks.append(Ask(f"budget:{budget.scope}:{budget.period}", reserve, budget.limit, ttl, seed))
        verdict = await self._store.reserve(asks)
        used = dict(zip((ask.counter for ask in asks), verdict.used, strict=True))
        headers = _rate_headers(name, window, now, rpm, tpm, used)
        key_budgets = [b for b in budgets if b.scope != ACCOUNT]
        if key_budgets:
            left = min(b.limit - used[f"budget:{b.scope}:{b.period}"] for b in key_budgets)
            headers[REMAINING_HEADER] = str(max(0, math.floor(left)))
        if not verdict.allowed:
            assert verdict.refused is not None
            raise _refusal(asks[verdict.refused], name, rpm, tpm, tokens, budgets, now, headers, used)
        exchange.reply_headers.update(headers)
        hold: list[tuple[str, str, float]] = [
            (ask.counter, "tokens", tokens) for ask in asks if ask.counter.startswith(f"rl:{name}:t:")
        ]
        hold += [(ask.counter, "neurons", reserve) for ask in asks if ask.counter.startswith("budget:")]
        if hold:
            exchange.holds[HOLD] = hold

    async def settle(self, exchange: Exchange) -> None:
        hold = exchange.holds.pop(HOLD, None)
        if hold is None:
            return
        usage, served = exchange.usage, exchange.model_served
        used_tokens = usage["total_tokens"] if usage is not None else 0
        budgeted = served is not None and any(unit == "neurons" for _, unit, _ in hold)
        cost = neurons(self._rate(served), usage) if budgeted and served is not None else 0.0
        changes = [
            (counter, (used_tokens if unit == "tokens" else cost) - reserved) for counter, unit, reserved in hold
        ]
        await self._store.adjust([(counter, change) for counter, change in changes if change])

    def _budgets(self, exchange: Exchange, now: float) -> list[_Budget]:
        assert exchange.identity is not None
        access = exchange.identity.access
        moment = datetime.fromtimestamp(now, UTC)
        day, month = moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")
        next_day = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        next_month = (moment.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
        scope = "key:" + exchange.identity.name
        found = []
        if access is not None and access.daily_neurons is not None:
            found.append(_Budget(scope, day, access.daily_neurons, "the key's daily budget", next_day))
        if access is not None and access.monthly_neurons is not None:
            found.append(_Budget(scope, month, access.monthly_neurons, "the key's monthly budget", next_month))
        if self._daily is not None:
            found.append(
                _Budget(ACCOUNT, day, self._daily, "the account's daily budget (PROXY_DAILY_NEURONS)", next_day)
            )
        return found

    async def _seed(self, budget: _Budget) -> float:
        """What the ledger held for a budget when this process first used it (a restart keeps what was spent)."""
        key = (budget.scope, budget.period)
        seed = self._seeds.get(key)
        if seed is None:
            start = datetime.strptime(budget.period + ("-01" if len(budget.period) == 7 else ""), "%Y-%m-%d")
            owner = None if budget.scope == ACCOUNT else budget.scope.removeprefix("key:")
            seed = self._seeds[key] = await self._ledger.spent(owner, start.replace(tzinfo=UTC).timestamp())
        return seed


def _rate_headers(
    name: str, window: int, now: float, rpm: int | None, tpm: int | None, used: dict[str, float]
) -> dict[str, str]:
    headers: dict[str, str] = {}
    reset = _duration((window + 1) * WINDOW_SECONDS - now)
    if rpm is not None:
        headers["x-ratelimit-limit-requests"] = str(rpm)
        headers["x-ratelimit-remaining-requests"] = str(max(0, rpm - int(used[f"rl:{name}:r:{window}"])))
        headers["x-ratelimit-reset-requests"] = reset
    if tpm is not None:
        headers["x-ratelimit-limit-tokens"] = str(tpm)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, tpm - int(used[f"rl:{name}:t:{window}"])))
        headers["x-ratelimit-reset-tokens"] = reset
    return headers


def _refusal(
    ask: Ask,
    name: str,
    rpm: int | None,
    tpm: int | None,
    tokens: int,
    budgets: list[_Budget],
    now: float,
    headers: dict[str, str],
    used: dict[str, float],
) -> ProxyError:
    if ask.counter.startswith("budget:"):
        budget = next(b for b in budgets if ask.counter == f"budget:{b.scope}:{b.period}")
        until_reset = max(1, math.ceil(budget.reset.timestamp() - now))
        spent = used[ask.counter]
        return QuotaExhausted(
            f"Over {budget.what}: {budget.limit} neurons, {spent:.0f} spent, this request may cost up to "
            f"{ask.amount:.0f}. It resets at {budget.reset.strftime('%Y-%m-%d %H:%M')} UTC.",
            headers={**headers, "Retry-After": str(until_reset)},
        )
    wait = str(max(1, math.ceil((now // WINDOW_SECONDS + 1) * WINDOW_SECONDS - now)))
    if ":r:" in ask.counter:
        message = (
            f"Rate limit reached for key {name!r} on requests per minute: limit {rpm}, used {int(used[ask.counter])}."
        )
    elif tpm is not None and tokens > tpm:
        message = (
            f"Request too large for key {name!r} on tokens per minute: limit {tpm}, requested {tokens} (the prompt "
            "and the token budget); lower max_tokens."
        )
    else:
        message = (
            f"Rate limit reached for key {name!r} on tokens per minute: limit {tpm}, "
            f"used {int(used[ask.counter])}, requested {tokens}."
        )
    return RateLimited(message, headers={**headers, "Retry-After": wait})


def _duration(seconds: float) -> str:
    """OpenAI's spelling of a reset time: `1s`, `6m0s`, `20ms`."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
