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
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import NamedTuple

from app.errors import ProxyError, QuotaExhausted, RateLimited
from app.exchange import Exchange
from app.models.prices import Rate, cost_of, worst_case
from app.policies.identity import Access, Identity
from app.stores.keys import ModelLimit
from app.stores.quotas import Ask, QuotaStore
from app.stores.usage import Spent, UsageStore

WINDOW_SECONDS = 60
WINDOW_TTL = 2 * WINDOW_SECONDS
HOLD = "quotas"  # the exchange's hold: [(counter, "tokens" | "neurons", reserved), ...]
REMAINING_HEADERS = {"neurons": "x-budget-remaining-neurons", "tokens": "x-budget-remaining-tokens"}
ACCOUNT = "account"
RATE_KINDS = ("requests", "tokens")
MAX_PLANS = 10_000  # (key, model) plans kept; beyond, they are worked out again


class _Rule(NamedTuple):
    """One limit a key's requests ask of: what it counts and where (its counter without the period)."""

    kind: str  # "requests", "tokens" (per minute) or "budget"
    stem: str  # the counter less its period: "rl:team-a:r:" + minute, "budget:key:team-a:neurons:" + day or month
    limit: int
    whose: str  # rate limits: "key 'team-a'" (on model ...); budgets: "the key's daily budget"
    unit: str = ""  # budgets: "neurons" or "tokens"
    daily: bool = True  # budgets: per UTC day, else per UTC month
    scope: str = ""  # budgets: "key:<name>" or "account"


class _Plan(NamedTuple):
    """A key's limits on one model, worked out once (a key's limits change only with its record)."""

    access: Access | None  # the record's limits it was made from
    rules: tuple[_Rule, ...]
    neurons: bool  # some budget counts neurons: the model's rate is needed


class _Calendar(NamedTuple):
    day: str  # 2026-11-29
    month: str  # 2026-11
    next_day: float  # Unix time of the next 00:00 UTC
    next_month: float


class Quotas:
    """Both an admission and a settlement hook."""

    __slots__ = ("_calendar", "_daily", "_ledger", "_plans", "_rate", "_rpm", "_seeds", "_store", "_tpm", "_wall")

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
        self._plans: dict[tuple[str, str | None, str | None], _Plan] = {}
        self._calendar: tuple[int, _Calendar] | None = None

    async def admit(self, exchange: Exchange) -> None:
        identity = exchange.identity
        if identity is None:
            return
        route = exchange.route
        model = route.model_id if route is not None else None
        key = (identity.name, exchange.model_asked, model)
        plan = self._plans.get(key)
        if plan is None or plan.access is not identity.access:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = self._plan(identity, exchange.model_asked, model)
        if not plan.rules:
            return  # the common case without limits: no clock, no dates
        now = self._wall()
        minute = str(int(now // WINDOW_SECONDS))
        tokens = exchange.token_estimate
        asks: list[Ask] = []
        calendar: _Calendar | None = None
        dearest = 0.0
        for rule in plan.rules:
            if rule.kind != "budget":
                asks.append(Ask(rule.stem + minute, 1 if rule.kind == "requests" else tokens, rule.limit, WINDOW_TTL))
                continue
            if calendar is None:
                calendar = self._calendar_of(now)
                if plan.neurons and model is not None:
                    dearest = worst_case(self._rate(model), tokens)
            period, reset = (calendar.day, calendar.next_day) if rule.daily else (calendar.month, calendar.next_month)
            spent = self._seeds.get((rule.scope, period)) or await self._seed(rule.scope, period)
            seed = spent.tokens if rule.unit == "tokens" else spent.neurons
            amount = tokens if rule.unit == "tokens" else dearest
            asks.append(Ask(rule.stem + period, amount, rule.limit, int(reset - now) + 86_400, seed))
        verdict = await self._store.reserve(asks)
        headers = _headers(plan.rules, verdict.used, now)
        if not verdict.allowed:
            assert verdict.refused is not None
            refused = plan.rules[verdict.refused]
            raise _refusal(
                refused, asks[verdict.refused], verdict.used[verdict.refused], tokens, now, calendar, headers
            )
        exchange.reply_headers.update(headers)
        hold = [
            (ask.counter, rule.unit or rule.kind, ask.amount)
            for rule, ask in zip(plan.rules, asks, strict=True)
            if rule.kind != "requests"
        ]
        if hold:
            exchange.holds[HOLD] = hold

    async def settle(self, exchange: Exchange) -> None:
        hold = exchange.holds.pop(HOLD, None)
        if hold is None:
            return
        usage, served = exchange.usage, exchange.model_served
        if exchange.cache == "hit":
            usage = None  # answered from the cache: no upstream tokens, no neurons
        used_tokens = usage["total_tokens"] if usage is not None else 0
        budgeted = served is not None and any(unit == "neurons" for _, unit, _ in hold)
        cost = 0.0
        if budgeted and served is not None and exchange.cache != "hit":  # media are priced per image, minute, ...
            cost = cost_of(self._rate(served), usage, exchange.neurons)
        changes = [
            (counter, (used_tokens if unit == "tokens" else cost) - reserved) for counter, unit, reserved in hold
        ]
        await self._store.adjust([(counter, change) for counter, change in changes if change])

    def _plan(self, identity: Identity, asked: str | None, model: str | None) -> _Plan:
        access, name = identity.access, identity.name
        rpm = access.rpm if access is not None and access.rpm is not None else self._rpm
        tpm = access.tpm if access is not None and access.tpm is not None else self._tpm
        whose = f"key {name!r}"
        rules: list[_Rule] = []
        if rpm is not None:
            rules.append(_Rule("requests", f"rl:{name}:r:", rpm, whose))
        if tpm is not None:
            rules.append(_Rule("tokens", f"rl:{name}:t:", tpm, whose))
        per_model = _model_limit((asked, model), access.model_limits) if access is not None and model else None
        if per_model is not None:
            on = f"{whose} on model {model!r}"
            if per_model.rpm is not None:
                rules.append(_Rule("requests", f"rl:{name}:m:{model}:r:", per_model.rpm, on))
            if per_model.tpm is not None:
                rules.append(_Rule("tokens", f"rl:{name}:m:{model}:t:", per_model.tpm, on))
        if model is not None:
            scope = "key:" + name
            if access is not None:
                for unit, daily, monthly in (
                    ("neurons", access.daily_neurons, access.monthly_neurons),
                    ("tokens", access.daily_tokens, access.monthly_tokens),
                ):
                    stem = f"budget:{scope}:{unit}:"
                    if daily is not None:
                        rules.append(_Rule("budget", stem, daily, "the key's daily budget", unit, True, scope))
                    if monthly is not None:
                        rules.append(_Rule("budget", stem, monthly, "the key's monthly budget", unit, False, scope))
            if self._daily is not None:
                what = "the account's daily budget (PROXY_DAILY_NEURONS)"
                rules.append(_Rule("budget", f"budget:{ACCOUNT}:neurons:", self._daily, what, "neurons", True, ACCOUNT))
        return _Plan(access, tuple(rules), any(rule.unit == "neurons" for rule in rules))

    def _calendar_of(self, now: float) -> _Calendar:
        """Today's and this month's names and ends (UTC), worked out once a day."""
        day_number = int(now // 86_400)
        if self._calendar is not None and self._calendar[0] == day_number:
            return self._calendar[1]
        moment = datetime.fromtimestamp(day_number * 86_400, UTC)
        next_month = (moment.replace(day=1) + timedelta(days=32)).replace(day=1)
        calendar = _Calendar(
            moment.strftime("%Y-%m-%d"),
            moment.strftime("%Y-%m"),
            (day_number + 1) * 86_400.0,
            next_month.timestamp(),
        )
        self._calendar = (day_number, calendar)
        return calendar

    async def _seed(self, scope: str, period: str) -> Spent:
        """What the ledger held for a budget when this process first used it (a restart keeps what was spent)."""
        start = datetime.strptime(period + ("-01" if len(period) == 7 else ""), "%Y-%m-%d")
        owner = None if scope == ACCOUNT else scope.removeprefix("key:")
        spent = self._seeds[(scope, period)] = await self._ledger.spent(owner, start.replace(tzinfo=UTC).timestamp())
        return spent


def _model_limit(names: tuple[str | None, str | None], limits: tuple[ModelLimit, ...]) -> ModelLimit | None:
    """The first of a key's per-model limits whose pattern names the model as asked or as served."""
    found = [name for name in names if name is not None]
    return next((limit for limit in limits if any(fnmatchcase(n, limit.pattern) for n in found)), None)


def _headers(rules: tuple[_Rule, ...], used: tuple[float, ...], now: float) -> dict[str, str]:
    """OpenAI's x-ratelimit-* of the requests and token limits with the least left, and what the key's budgets
    have left."""
    least: dict[str, tuple[float, int]] = {}  # "requests", "tokens", or a budget's header -> (left, limit)
    for rule, spent in zip(rules, used, strict=True):
        if rule.scope == ACCOUNT:
            continue
        kind = REMAINING_HEADERS[rule.unit] if rule.kind == "budget" else rule.kind
        left = rule.limit - spent
        if kind not in least or left < least[kind][0]:
            least[kind] = (left, rule.limit)
    headers: dict[str, str] = {}
    for kind, (left, limit) in least.items():
        if kind not in RATE_KINDS:
            headers[kind] = str(max(0, math.floor(left)))
            continue
        headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(left)))
        headers[f"x-ratelimit-reset-{kind}"] = _duration(WINDOW_SECONDS - now % WINDOW_SECONDS)
    return headers


def _refusal(
    rule: _Rule,
    ask: Ask,
    used: float,
    tokens: int,
    now: float,
    calendar: _Calendar | None,
    headers: dict[str, str],
) -> ProxyError:
    if rule.kind == "budget":
        assert calendar is not None
        reset = calendar.next_day if rule.daily else calendar.next_month
        until_reset = max(1, math.ceil(reset - now))
        return QuotaExhausted(
            f"Over {rule.whose}: {rule.limit} {rule.unit}, {used:.0f} spent, this request may cost up to "
            f"{ask.amount:.0f}. It resets at {datetime.fromtimestamp(reset, UTC).strftime('%Y-%m-%d %H:%M')} UTC.",
            headers={**headers, "Retry-After": str(until_reset)},
        )
    wait = str(max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS)))
    if rule.kind == "requests":
        message = f"Rate limit reached for {rule.whose} on requests per minute: limit {rule.limit}, used {int(used)}."
    elif tokens > rule.limit:
        message = (
            f"Request too large for {rule.whose} on tokens per minute: limit {rule.limit}, requested {tokens} (the "
            "prompt and the token budget); lower max_tokens."
        )
    else:
        message = (
            f"Rate limit reached for {rule.whose} on tokens per minute: limit {rule.limit}, used {int(used)}, "
            f"requested {tokens}."
        )
    return RateLimited(message, headers={**headers, "Retry-After": wait})


def _duration(seconds: float) -> str:
    """OpenAI's spelling of a reset time: `1s`, `6m0s`, `20ms`."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
