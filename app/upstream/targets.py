"""Where a dialect's request is sent: the Workers AI base URL and the auth headers."""

from __future__ import annotations

from functools import lru_cache

import httpx

from app import __version__

USER_AGENT = f"workers-ai-proxy/{__version__}"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
# Compression makes a stream wait for whole compressed blocks; ask for the raw bytes.
STREAM_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
    "Accept-Encoding": "identity",
    "User-Agent": USER_AGENT,
}


class WorkersAITarget:
    """Workers AI reached directly: `{api_base}/accounts/{account}/ai/{path}`."""

    __slots__ = ("_ai_base",)

    def __init__(self, api_base: str, account_id: str) -> None:
        self._ai_base = f"{api_base.rstrip('/')}/accounts/{account_id}/ai/"

    def url(self, path: str) -> str:
        # Model ids keep their slashes unescaped: .../ai/run/@cf/meta/llama-3.1-8b-instruct
        return self._ai_base + path


@lru_cache(maxsize=256)
def auth_headers(token: str, *, stream: bool) -> httpx.Headers:
    """Built once per token: httpx normalizes every header it is given, ~5 us per request otherwise."""
    headers = dict(STREAM_HEADERS if stream else JSON_HEADERS)
    headers["Authorization"] = f"Bearer {token}"
    return httpx.Headers(headers)
