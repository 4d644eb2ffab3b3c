"""Rate limits and budgets, per key, decided in one step before any upstream call (one round trip on a shared
backend) and reconciled to what the request really used when it settles (a stream when it ends; a client that left:
what was generated; a failure: nothing), so that no reservation leaks.

- Requests and tokens per minute: a named key's own limits, else PROXY_KEY_RPM / PROXY_KEY_TPM; and per key and
  model where the key sets them (`--model-rpm PATTERN=N`: each model the pattern matches counted alone). Tokens
  reserved: the prompt (estimated) and the token budget. Replies carry OpenAI's `x-ratelimit-*` headers (of the
  limit closest to its end); over a limit: 429 `rate_limit_exceeded` with `Retry-After`.
- Budgets in neurons or tokens: a named key's daily and monthly ones and the account's daily guard
  (PROXY_DAILY_NEURONS), UTC days and months as Workers AI resets at 00:00 UTC. Reserved: the request's worst case
  (neurons: every token at the model's dearer rate; tokens: the prompt and the token budget); over one: 429
  `insufficient_quota` naming it, `Retry-After` to its reset. What was spent before a restart seeds a budget's
  counter from the usage ledger.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from app.errors import ProxyError, QuotaExhausted, RateLimited
from app.exchange import Exchange
from app.models.prices import Rate, neurons, worst_case
from app.stores.keys import ModelLimit
from app.stores.quotas import Ask, QuotaStore
from app.stores.usage import Spent, UsageStore

WINDOW_SECONDS = 60
WINDOW_TTL = 2 * WINDOW_SECONDS
HOLD = "quotas"  # the exchange's hold: [(counter, "tokens" | "neurons", reserved), ...]
REMAINING_HEADERS = {"neurons": "x-budget-remaining-neurons", "tokens": "x-budget-remaining-tokens"}
ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class _Budget:
    scope: str  # "key:<name>" or "account"
    period: str  # 2026-11-29 or 2026-11
    unit: str  # "neurons" or "tokens"
    limit: int
    what: str
    reset: datetime

    @property
    def counter(self) -> str:
        return f"budget:{self.scope}:{self.unit}:{self.period}"


@dataclass(frozen=True, slots=True)
class _Limit:
    """One counter a request asks of, and what it is, for headers, refusals and settlement."""

    ask: Ask
    kind: str  # "requests", "tokens" (per minute) or "budget"
    whose: str  # "key 'team-a'", "key 'team-a' on model '@cf/...'"
    budget: _Budget | None = None

    @property
    def settled_in(self) -> str | None:
        """What the reservation is reconciled to when the request settles (requests are never given back)."""
        if self.budget is not None:
            return self.budget.unit
        return "tokens" if self.kind == "tokens" else None


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
        self._seeds: dict[tuple[str, str], Spent] = {}  # what the ledger held when a budget was first used

    async def admit(self, exchange: Exchange) -> None:
        identity = exchange.identity
        if identity is None:
            return
        access = identity.access
        rpm = access.rpm if access is not None and access.rpm is not None else self._rpm
        tpm = access.tpm if access is not None and access.tpm is not None else self._tpm
        per_model = _model_limit(exchange, access.model_limits) if access is not None and access.model_limits else None
        budgeted = self._daily is not None or (access is not None and access.budgeted)
        if rpm is None and tpm is None and per_model is None and not budgeted:
            return  # the common case without limits: no clock, no dates
        now = self._wall()
        window = int(now // WINDOW_SECONDS)
        name = identity.name
        tokens = exchange.token_estimate
        whose = f"key {name!r}"
        limits: list[_Limit] = []
        if rpm is not None:
            limits.append(_Limit(Ask(f"rl:{name}:r:{window}", 1, rpm, WINDOW_TTL), "requests", whose))
        if tpm is not None:
            limits.append(_Limit(Ask(f"rl:{name}:t:{window}", tokens, tpm, WINDOW_TTL), "tokens", whose))
        if per_model is not None and exchange.route is not None:
            model = exchange.route.model_id
            on = f"{whose} on model {model!r}"
            if per_model.rpm is not None:
                limits.append(
                    _Limit(Ask(f"rl:{name}:m:{model}:r:{window}", 1, per_model.rpm, WINDOW_TTL), "requests", on)
                )
            if per_model.tpm is not None:
                ask = Ask(f"rl:{name}:m:{model}:t:{window}", tokens, per_model.tpm, WINDOW_TTL)
                limits.append(_Limit(ask, "tokens", on))
        if budgeted and exchange.route is not None:
            dearest = worst_case(self._rate(exchange.route.model_id), tokens)
            for budget in self._budgets(exchange, now):
                seed = await self._seed(budget)
                amount = tokens if budget.unit == "tokens" else dearest
                ttl = int(budget.reset.timestamp() - now) + 86_400
                limits.append(
                    _Limit(Ask(budget.counter, amount, budget.limit, ttl, seed), "budget", budget.what, budget)
                )
        verdict = await self._store.reserve([limit.ask for limit in limits])
        headers = _headers(limits, verdict.used, now, window)
        if not verdict.allowed:
            assert verdict.refused is not None
            refused = limits[verdict.refused]
            raise _refusal(refused, verdict.used[verdict.refused], tokens, now, headers)
        exchange.reply_headers.update(headers)
        hold = [(limit.ask.counter, unit, limit.ask.amount) for limit in limits if (unit := limit.settled_in)]
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
        if access is not None:
            for unit, daily, monthly in (
                ("neurons", access.daily_neurons, access.monthly_neurons),
                ("tokens", access.daily_tokens, access.monthly_tokens),
            ):
                if daily is not None:
                    found.append(_Budget(scope, day, unit, daily, "the key's daily budget", next_day))
                if monthly is not None:
                    found.append(_Budget(scope, month, unit, monthly, "the key's monthly budget", next_month))
        if self._daily is not None:
            what = "the account's daily budget (PROXY_DAILY_NEURONS)"
            found.append(_Budget(ACCOUNT, day, "neurons", self._daily, what, next_day))
        return found

    async def _seed(self, budget: _Budget) -> float:
        """What the ledger held for a budget when this process first used it (a restart keeps what was spent)."""
        key = (budget.scope, budget.period)
        spent = self._seeds.get(key)
        if spent is None:
            start = datetime.strptime(budget.period + ("-01" if len(budget.period) == 7 else ""), "%Y-%m-%d")
            owner = None if budget.scope == ACCOUNT else budget.scope.removeprefix("key:")
            spent = self._seeds[key] = await self._ledger.spent(owner, start.replace(tzinfo=UTC).timestamp())
        return spent.tokens if budget.unit == "tokens" else spent.neurons


def _model_limit(exchange: Exchange, limits: tuple[ModelLimit, ...]) -> ModelLimit | None:
    """The first of a key's per-model limits whose pattern names the model as asked or as served."""
    names = [name for name in (exchange.model_asked, exchange.model_served) if name is not None]
    return next((limit for limit in limits if any(fnmatchcase(n, limit.pattern) for n in names)), None)


def _headers(limits: list[_Limit], used: tuple[float, ...], now: float, window: int) -> dict[str, str]:
    """OpenAI's x-ratelimit-* of the requests and token limits with the least left, and what the key's budgets
    have left."""
    headers: dict[str, str] = {}
    reset = _duration((window + 1) * WINDOW_SECONDS - now)
    for kind in ("requests", "tokens"):
        left = [
            (limit.ask.limit - spent, limit.ask.limit)
            for limit, spent in zip(limits, used, strict=True)
            if limit.kind == kind
        ]
        if left:
            remaining, most = min(left)
            headers[f"x-ratelimit-limit-{kind}"] = str(int(most))
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(remaining)))
            headers[f"x-ratelimit-reset-{kind}"] = reset
    for unit, header in REMAINING_HEADERS.items():
        budget_left = [
            limit.ask.limit - spent
            for limit, spent in zip(limits, used, strict=True)
            if limit.budget is not None and limit.budget.unit == unit and limit.budget.scope != ACCOUNT
        ]
        if budget_left:
            headers[header] = str(max(0, math.floor(min(budget_left))))
    return headers


def _refusal(limit: _Limit, used: float, tokens: int, now: float, headers: dict[str, str]) -> ProxyError:
    budget = limit.budget
    if budget is not None:
        until_reset = max(1, math.ceil(budget.reset.timestamp() - now))
        return QuotaExhausted(
            f"Over {budget.what}: {budget.limit} {budget.unit}, {used:.0f} spent, this request may cost up to "
            f"{limit.ask.amount:.0f}. It resets at {budget.reset.strftime('%Y-%m-%d %H:%M')} UTC.",
            headers={**headers, "Retry-After": str(until_reset)},
        )
    wait = str(max(1, math.ceil((now // WINDOW_SECONDS + 1) * WINDOW_SECONDS - now)))
    most = int(limit.ask.limit)
    if limit.kind == "requests":
        message = f"Rate limit reached for {limit.whose} on requests per minute: limit {most}, used {int(used)}."
    elif tokens > most:
        message = (
            f"Request too large for {limit.whose} on tokens per minute: limit {most}, requested {tokens} (the prompt "
            "and the token budget); lower max_tokens."
        )
    else:
        message = (
            f"Rate limit reached for {limit.whose} on tokens per minute: limit {most}, used {int(used)}, "
            f"requested {tokens}."
        )
    return RateLimited(message, headers={**headers, "Retry-After": wait})


def _duration(seconds: float) -> str:
    """OpenAI's spelling of a reset time: `1s`, `6m0s`, `20ms`."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
