"""The admission and settlement seams of the pipeline.

Admission hooks run in order after the route is known and before any upstream call; one that raises a
ProxyError refuses the request (later: rate limits, budgets; a cache hit will answer instead). Settlement hooks
run once per admitted request when it ends, whatever the outcome: a whole reply when it is built, a stream when
it ends (completed, failed, or the client left), a failure when it is raised. They must not raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.exchange import Exchange


class Admission(Protocol):
    async def admit(self, exchange: Exchange) -> None: ...


class Settlement(Protocol):
    async def settle(self, exchange: Exchange) -> None: ...
