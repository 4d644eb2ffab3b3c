"""AI Gateway headers: which ones a client may send through the proxy, and which ones come back."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import orjson

from app.errors import InvalidRequest

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
# Gateway response headers relayed to the client: only well-formed ones. A header name or value that HTTP
# does not allow (a control character, a line break) would make the server refuse to send the response.
RESPONSE_PREFIX = "cf-aig-"
RELAYED_NAME = re.compile(r"cf-aig-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}", re.IGNORECASE)
RELAYED_VALUE = re.compile(r"[\t\x20-\x7e]{0,4096}")


MAX_METADATA_ENTRIES = 5


def request_headers(defaults: Mapping[str, str], client: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The configured defaults, overridden by the allow-listed headers the client sent."""
    chosen = dict(defaults)
    for name, value in client:
        lowered = name.lower()
        if lowered in REQUEST_HEADERS:
            chosen[lowered] = value
    if "cf-aig-metadata" in chosen:
        check_metadata(chosen["cf-aig-metadata"])
    return chosen


def check_metadata(value: str) -> None:
    """AI Gateway takes a flat JSON object of at most five string, number or boolean values."""
    try:
        metadata = orjson.loads(value)
    except orjson.JSONDecodeError:
        metadata = None
    flat = isinstance(metadata, dict) and all(isinstance(v, str | int | float | bool) for v in metadata.values())
    if not flat or len(metadata) > MAX_METADATA_ENTRIES:
        raise InvalidRequest(
            f"cf-aig-metadata must be a JSON object of at most {MAX_METADATA_ENTRIES} string, number or "
            "boolean values.",
            param="cf-aig-metadata",
        )


def response_headers(upstream: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {
        name: value
        for name, value in upstream
        if name[:7].lower() == RESPONSE_PREFIX and RELAYED_NAME.fullmatch(name) and RELAYED_VALUE.fullmatch(value)
    }
