"""GET and PATCH /v1/gateway/logs/{log_id}: AI Gateway log entries, and feedback on them."""

from __future__ import annotations

import re
from typing import Any

import orjson

from app.errors import InvalidRequest, NotFound
from app.exchange import Exchange
from app.pipeline.core import Pipeline
from app.upstream.client import UpstreamClient
from app.upstream.envelope import json_reply, unwrap_result
from app.upstream.targets import Targets

LOG_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class GatewayLogs:
    def __init__(self, pipeline: Pipeline, upstream: UpstreamClient, targets: Targets) -> None:
        self.pipeline = pipeline
        self.upstream = upstream
        self.targets = targets

    async def entry(self, log_id: str, exchange: Exchange, feedback: dict[str, Any] | None = None) -> Any:
        """One log entry (GET), or feedback on it (PATCH)."""
        if not self.targets.has_gateway:
            raise NotFound(
                "No AI Gateway is configured on this proxy (CLOUDFLARE_GATEWAY_ID).", code="gateway_not_configured"
            )
        if not LOG_ID.fullmatch(log_id):
            raise InvalidRequest(f"Invalid gateway log id {log_id!r}.", param="log_id")
        identity = exchange.identity
        assert identity is not None

        async def call() -> Any:
            url = self.targets.gateway_logs_url(log_id)
            headers = self.targets.headers(identity.upstream_token, stream=False, gateway=False)
            method, body = ("GET", b"") if feedback is None else ("PATCH", orjson.dumps(feedback))
            return unwrap_result(json_reply(await self.upstream.request(url, body, headers, method)))

        return await self.pipeline.run_local(exchange, call)
