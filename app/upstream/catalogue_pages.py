"""Where the model catalogue comes from: the account's `/ai/models/search`, one page at a time."""

from __future__ import annotations

from typing import Any

from app.models.catalogue import ModelCatalogue
from app.upstream.client import UpstreamClient
from app.upstream.envelope import json_reply
from app.upstream.targets import Targets


async def catalogue_page(
    upstream: UpstreamClient, targets: Targets, token: str, page: int
) -> tuple[list[Any], dict[str, Any]]:
    """One page of the account's `/ai/models/search`."""
    url = f"{targets.catalogue_url()}?page={page}&per_page={ModelCatalogue.PER_PAGE}"
    headers = targets.headers(token, stream=False, gateway=False)
    payload = json_reply(await upstream.request(url, b"", headers, "GET"))
    result = payload.get("result") if isinstance(payload, dict) else None
    info = payload.get("result_info") if isinstance(payload, dict) else None
    return (result if isinstance(result, list) else []), (info if isinstance(info, dict) else {})
