"""The usage ledger: one row per request of every endpoint, as it settled, and the totals `GET /v1/usage` reads."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

GROUPS = ("key", "model", "day", "endpoint")  # what totals may be grouped by


class UsageRow(NamedTuple):
    """A tuple: it is the table's row as it is written (the fields in the columns' order)."""

    at: float  # Unix time the request ended
    day: str  # its UTC date, YYYY-MM-DD
    key: str  # the identity's name
    endpoint: str
    model_asked: str | None
    model_served: str | None
    route: str | None  # the upstream route: native, openai, compat
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    measured: bool  # the upstream counted the tokens (else the proxy estimated them)
    neurons: float  # estimated from the model's rate
    outcome: str  # completed, failed, disconnected, aborted
    status: int
    cache_hit: bool
    request_id: str


USAGE_FIELDS = UsageRow._fields  # the ledger's columns, in order


class Spent(NamedTuple):
    neurons: float
    tokens: int  # input and output


class UsageStore(Protocol):
    async def record(self, rows: list[UsageRow]) -> None: ...

    async def totals(self, start: float, end: float, group_by: tuple[str, ...]) -> list[dict[str, Any]]:
        """Per group (`GROUPS`): requests, tokens, neurons and errors of the rows that ended in [start, end)."""
        ...

    async def spent(self, key: str | None, since: float) -> Spent:
        """Neurons and tokens of one key (None: every key) since a moment: what budgets start from after a
        restart."""
        ...
