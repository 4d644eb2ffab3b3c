"""Where each request goes: URL, the model name the body carries, and the headers, for every route.

| route    | no gateway                                   | CLOUDFLARE_GATEWAY_ID set                                |
|----------|----------------------------------------------|----------------------------------------------------------|
| native   | {api}/accounts/{a}/ai/run/{model}            | {gw}/{a}/{g}/workers-ai/{model}                          |
| openai   | {api}/accounts/{a}/ai/v1/chat/completions     | {gw}/{a}/{g}/workers-ai/v1/chat/completions              |
|          | {api}/accounts/{a}/ai/v1/embeddings           | {gw}/{a}/{g}/workers-ai/v1/embeddings                    |
| compat   | (needs a gateway)                            | {gw}/{a}/{g}/compat/chat/completions, model              |
|          |                                              | `workers-ai/@cf/...` or provider-qualified as given      |

Compat embeddings of Workers AI models use the gateway's Workers AI OpenAI route (the unified endpoint is
documented for chat only); provider-qualified embedding models go to `compat/embeddings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import httpx

from app import __version__
from app.upstream.body import ACCEPT_ENCODING

USER_AGENT = f"workers-ai-proxy/{__version__}"
JSON_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Accept-Encoding": ACCEPT_ENCODING,  # only what app.upstream.body decodes
    "User-Agent": USER_AGENT,
}
# Compression makes a stream wait for whole compressed blocks; ask for the raw bytes.
STREAM_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
    "Accept-Encoding": "identity",
    "User-Agent": USER_AGENT,
}
WORKERS_AI_PREFIXES = ("@cf/", "@hf/")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    model: str  # as the request body names it (OpenAI-style routes); the native route puts it in the URL
    via_gateway: bool


class Targets:
    def __init__(
        self,
        api_base: str,
        account_id: str,
        gateway_base: str | None = None,
        gateway_id: str | None = None,
        gateway_token: str | None = None,
    ) -> None:
        self._ai = f"{api_base.rstrip('/')}/accounts/{account_id}/ai/"
        self._api_account = f"{api_base.rstrip('/')}/accounts/{account_id}/"
        self._gateway = (
            f"{gateway_base.rstrip('/')}/{account_id}/{gateway_id}/" if gateway_base and gateway_id else None
        )
        self.gateway_id = gateway_id
        self._gateway_auth = {"cf-aig-authorization": f"Bearer {gateway_token}"} if gateway_token else {}

    @property
    def has_gateway(self) -> bool:
        return self._gateway is not None

    def chat(self, kind: str, model_id: str) -> Endpoint:
        if kind == "native":
            return self._native(model_id)
        if kind == "compat":
            return Endpoint(self._gateway_url("compat/chat/completions"), compat_model(model_id), True)
        return self._openai("v1/chat/completions", model_id)

    def embeddings(self, kind: str, model_id: str) -> Endpoint:
        if kind == "native":
            return self._native(model_id)
        if kind == "compat" and not model_id.startswith(WORKERS_AI_PREFIXES):
            return Endpoint(self._gateway_url("compat/embeddings"), model_id, True)
        if kind == "compat":
            return Endpoint(self._gateway_url("workers-ai/v1/embeddings"), model_id, True)
        return self._openai("v1/embeddings", model_id)

    def catalogue_url(self) -> str:
        return self._ai + "models/search"

    def gateway_logs_url(self, log_id: str) -> str:
        return f"{self._api_account}ai-gateway/gateways/{self.gateway_id}/logs/{log_id}"

    def headers(self, token: str, *, stream: bool, gateway: bool, extra: dict[str, str] | None = None) -> httpx.Headers:
        if not gateway or not (self._gateway_auth or extra):
            return auth_headers(token, stream=stream)
        headers = dict(STREAM_HEADERS if stream else JSON_HEADERS)
        headers["Authorization"] = f"Bearer {token}"
        headers.update(self._gateway_auth)
        headers.update(extra or {})
        return httpx.Headers(headers)

    def _native(self, model_id: str) -> Endpoint:
        # Model ids keep their slashes unescaped: .../ai/run/@cf/openai/gpt-oss-120b
        if self._gateway is not None:
            return Endpoint(self._gateway + "workers-ai/" + model_id, model_id, True)
        return Endpoint(self._ai + "run/" + model_id, model_id, False)

    def _openai(self, path: str, model_id: str) -> Endpoint:
        if self._gateway is not None:
            return Endpoint(self._gateway + "workers-ai/" + path, model_id, True)
        return Endpoint(self._ai + path, model_id, False)

    def _gateway_url(self, path: str) -> str:
        if self._gateway is None:
            raise RuntimeError("the compat route needs CLOUDFLARE_GATEWAY_ID (checked at start-up)")
        return self._gateway + path


def compat_model(model_id: str) -> str:
    """AI Gateway's unified API names models `{provider}/{model}`: Workers AI ids get `workers-ai/`."""
    return "workers-ai/" + model_id if model_id.startswith(WORKERS_AI_PREFIXES) else model_id


@lru_cache(maxsize=256)
def auth_headers(token: str, *, stream: bool) -> httpx.Headers:
    """Built once per token: httpx normalizes every header it is given, ~5 us per request otherwise."""
    headers = dict(STREAM_HEADERS if stream else JSON_HEADERS)
    headers["Authorization"] = f"Bearer {token}"
    return httpx.Headers(headers)
