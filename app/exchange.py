"""One request as it crosses the pipeline: who asked, for what, and what happened. The pipeline fills it in;
policies (admission, settlement) and observers read it. Nothing here knows HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.policies.identity import Identity
from app.protocol.common import Usage
from app.routing.route import Route

Outcome = Literal["completed", "failed", "disconnected", "aborted"]


@dataclass(slots=True, eq=False)
class Exchange:
    request_id: str
    endpoint: str  # the resource served: chat, completions, embeddings, models, gateway_logs, health
    started: float  # on the observer clock (seconds)
    identity: Identity | None = None  # None until the guard has identified the caller
    gateway_headers: dict[str, str] = field(default_factory=dict)  # AI Gateway headers the client asked for
    client_gone: Callable[[], Awaitable[bool]] | None = None  # True once the client has disconnected
    model_asked: str | None = None
    route: Route | None = None  # the route that served (after fallbacks), or the first one tried
    stream: bool = False  # asked as a stream
    relayed: bool = False  # answered as a stream (the relay began)
    attempts: int = 0  # upstream attempts, retries and every choice of n included
    fallbacks: list[str] = field(default_factory=list)  # models handed over to, in order
    status: int = 200
    error_code: str | None = None
    usage: Usage | None = None
    neurons: float | None = None  # what a media request cost (images, audio minutes, characters); None: from usage
    first_token: float | None = None  # observer clock, when the first frame of a stream left
    ended: float | None = None
    outcome: Outcome = "completed"
    bodies: dict[str, str] = field(default_factory=dict)  # request and reply text, only with PROXY_LOG_BODIES
    request_bytes: int = 0  # the request body's size
    token_estimate: int = 0  # the most tokens the request can use: its prompt (estimated) and its token budget
    holds: dict[str, Any] = field(default_factory=dict)  # what admission policies reserved, for their settlement
    reply_headers: dict[str, str] = field(default_factory=dict)  # what policies add to the reply (rate limits)
    json_body: dict[str, Any] | None = None  # the request body as the client sent it (decoded, never changed)
    cache: str | None = None  # the reply cache: "hit", "miss" (looked up, not found) or "bypass"; None: no cache
    cache_lookup: bool = True  # Cache-Control: no-cache turns it off
    cache_store: bool = True  # Cache-Control: no-store turns it off
    cache_ttl: float | None = None  # x-proxy-cache-ttl
    cache_found: tuple[tuple[str, ...], tuple[bytes, ...]] | None = None  # a hit's entries: keys, bytes as read
    settled: bool = False  # the settlement hooks ran (exactly once)
    finished: bool = False  # the observers heard the end (exactly once)

    @property
    def model_served(self) -> str | None:
        return self.route.model_id if self.route is not None else None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started
