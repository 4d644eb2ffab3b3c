"""The values of PROXY_UPSTREAM (and of a model's `upstream` in the config file): each one a dialect sent to a
target. Adding a dialect or a target to the choices is one line here; users' compose files spell these names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Upstream:
    dialect: str
    target: str
    needs_gateway: bool = False  # only AI Gateway serves it (CLOUDFLARE_GATEWAY_ID is then required)


UPSTREAMS: dict[str, Upstream] = {
    "native": Upstream("native", "workers-ai-run"),  # /ai/run/{model}, or the gateway's workers-ai provider route
    "openai": Upstream("openai", "workers-ai-openai"),  # /ai/v1/..., or the gateway's workers-ai/v1/...
    "compat": Upstream("openai", "gateway-compat", needs_gateway=True),  # the gateway's unified /compat API
}
