"""A route: what a requested model name resolves to, (dialect, target, model, capabilities)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models.capabilities import UNKNOWN, Capabilities


@dataclass(frozen=True, slots=True)
class Route:
    requested: str  # as the client wrote it; replies echo it back
    model_id: str  # the Workers AI id (or, through the compat upstream, `provider/model`)
    upstream: str = "native"  # the PROXY_UPSTREAM value chosen for it (routing.upstreams.UPSTREAMS)
    dialect: str = "native"  # the body shape the upstream accepts (dialects.DIALECTS)
    target: str = "workers-ai-run"  # where the request goes (upstream.targets.Targets)
    capabilities: Capabilities = UNKNOWN
