"""Asking again what a served exchange asked, for a reply that needs no upstream call (a repeat of a reply-cache
hit, `api.repeat_hits`): the new exchange is admitted, settled and observed as any other."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ProxyError
from app.exchange import Exchange
from app.pipeline.core import Pipeline
from app.policies.identity import Identity
from app.protocol.common import Usage
from app.routing.route import Route


@dataclass(frozen=True, slots=True)
class Asked:
    """What an exchange asked and was answered, as far as its policies and observers care."""

    identity: Identity
    endpoint: str
    model_asked: str | None
    route: Route
    catalogue_entry: object  # the catalogue's entry for the model then (it may change: a repeat must not outlive it)
    usage: Usage | None
    request_bytes: int
    token_estimate: int

    @classmethod
    def of(cls, exchange: Exchange, pipeline: Pipeline) -> Asked | None:
        identity, route = exchange.identity, exchange.route
        if identity is None or route is None or exchange.fallbacks:
            return None
        entry = pipeline.catalogue.entry(route.model_id)
        return cls(
            identity,
            exchange.endpoint,
            exchange.model_asked,
            route,
            entry,
            exchange.usage,
            exchange.request_bytes,
            exchange.token_estimate,
        )


def current(asked: Asked, pipeline: Pipeline) -> bool:
    """The model is as the catalogue said when it was asked."""
    return pipeline.catalogue.entry(asked.route.model_id) is asked.catalogue_entry


async def again(pipeline: Pipeline, asked: Asked, identity: Identity, request_id: str) -> Exchange | None:
    """A new exchange asking the same, admitted; None when an admission hook refuses it (having taken nothing)."""
    exchange = Exchange(request_id, asked.endpoint, pipeline.clock(), identity)
    exchange.model_asked = asked.model_asked
    exchange.request_bytes, exchange.token_estimate = asked.request_bytes, asked.token_estimate
    try:
        await pipeline.admit_on(exchange, asked.route)
    except ProxyError:
        return None
    pipeline.observer.request_started(exchange)
    exchange.usage = asked.usage
    return exchange


async def conclude(pipeline: Pipeline, exchange: Exchange) -> None:
    """Its reply has left: settled, then observed."""
    exchange.ended = pipeline.clock()
    await pipeline.settle(exchange)
    pipeline.finish(exchange)
