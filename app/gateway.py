"""AI Gateway headers: which ones a client may send through the proxy, and which ones come back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Client request headers forwarded to AI Gateway (nothing else of the client's headers goes upstream).
REQUEST_HEADERS = frozenset(
    {
        "cf-aig-cache-ttl",
        "cf-aig-skip-cache",
        "cf-aig-cache-key",
        "cf-aig-metadata",
        "cf-aig-collect-log",
        "cf-aig-request-timeout",
        "cf-aig-max-attempts",
        "cf-aig-retry-delay",
        "cf-aig-backoff",
        "cf-aig-event-id",
    }
)
# Gateway response headers relayed to the client.
RESPONSE_PREFIX = "cf-aig-"


def request_headers(defaults: Mapping[str, str], client: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The configured defaults, overridden by the allow-listed headers the client sent."""
    chosen = dict(defaults)
    for name, value in client:
        lowered = name.lower()
        if lowered in REQUEST_HEADERS:
            chosen[lowered] = value
    return chosen


def response_headers(upstream: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in upstream if name.lower().startswith(RESPONSE_PREFIX)}
