"""Targets: where a request goes. Each target owns its URLs, how it spells model ids, and what it accepts
beyond the body (Workers AI `options`, `x-session-affinity`). `Targets` holds one of each, built for the
account; adding a target is one class and one line in TARGET_TYPES.

| target            | no gateway                                   | CLOUDFLARE_GATEWAY_ID set                      |
|-------------------|----------------------------------------------|------------------------------------------------|
| workers-ai-run    | {api}/accounts/{a}/ai/run/{model}            | {gw}/{a}/{g}/workers-ai/{model}                |
| workers-ai-openai | {api}/accounts/{a}/ai/v1/chat/completions     | {gw}/{a}/{g}/workers-ai/v1/chat/completions    |
|                   | {api}/accounts/{a}/ai/v1/embeddings           | {gw}/{a}/{g}/workers-ai/v1/embeddings          |
| gateway-compat    | (needs a gateway)                            | {gw}/{a}/{g}/compat/chat/completions, model    |
|                   |                                              | `workers-ai/@cf/...` or provider-qualified     |

Compat embeddings of Workers AI models use the gateway's Workers AI OpenAI route (the unified endpoint is
documented for chat only); provider-qualified embedding models go to `compat/embeddings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Protocol

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
class Destination:
    url: str
    model: str  # as the request body names it (OpenAI-style bodies); the run target puts it in the URL
    via_gateway: bool


@dataclass(frozen=True, slots=True)
class Account:
    """The bases every target builds on."""

    base: str  # {api}, CLOUDFLARE_API_BASE
    ai: str  # {api}/accounts/{a}/ai/
    api: str  # {api}/accounts/{a}/
    gateway: str | None  # {gw}/{a}/{g}/ when a gateway is configured

    def gateway_url(self, path: str) -> str:
        if self.gateway is None:
            raise RuntimeError("this target needs CLOUDFLARE_GATEWAY_ID (checked at start-up)")
        return self.gateway + path


class Target(Protocol):
    name: ClassVar[str]
    takes_workers_ai_options: ClassVar[bool]  # `options.rejectIfBusy` at the top of the body (wire spec 9.6)
    takes_session_affinity: ClassVar[bool]  # `x-session-affinity` (prefix caching, wire spec 9.7)

    def __init__(self, account: Account) -> None: ...

    def chat(self, model_id: str) -> Destination: ...

    def embeddings(self, model_id: str) -> Destination: ...


class WorkersAIRun:
    """Workers AI's own `/ai/run/{model}`, or AI Gateway's workers-ai provider route."""

    name: ClassVar[str] = "workers-ai-run"
    takes_workers_ai_options: ClassVar[bool] = True
    takes_session_affinity: ClassVar[bool] = True

    def __init__(self, account: Account) -> None:
        self._account = account

    def chat(self, model_id: str) -> Destination:
        # Model ids keep their slashes unescaped: .../ai/run/@cf/openai/gpt-oss-120b
        if self._account.gateway is not None:
            return Destination(self._account.gateway + "workers-ai/" + model_id, model_id, True)
        return Destination(self._account.ai + "run/" + model_id, model_id, False)

    def embeddings(self, model_id: str) -> Destination:
        return self.chat(model_id)


class WorkersAIOpenAI:
    """Workers AI's OpenAI-compatible `/ai/v1/...`, or the gateway's `workers-ai/v1/...`."""

    name: ClassVar[str] = "workers-ai-openai"
    takes_workers_ai_options: ClassVar[bool] = True
    takes_session_affinity: ClassVar[bool] = False

    def __init__(self, account: Account) -> None:
        self._account = account

    def chat(self, model_id: str) -> Destination:
        return self._at("v1/chat/completions", model_id)

    def embeddings(self, model_id: str) -> Destination:
        return self._at("v1/embeddings", model_id)

    def _at(self, path: str, model_id: str) -> Destination:
        if self._account.gateway is not None:
            return Destination(self._account.gateway + "workers-ai/" + path, model_id, True)
        return Destination(self._account.ai + path, model_id, False)


class GatewayCompat:
    """AI Gateway's unified API: models named `{provider}/{model}`, another provider's rules."""

    name: ClassVar[str] = "gateway-compat"
    takes_workers_ai_options: ClassVar[bool] = False
    takes_session_affinity: ClassVar[bool] = False

    def __init__(self, account: Account) -> None:
        self._account = account

    def chat(self, model_id: str) -> Destination:
        return Destination(self._account.gateway_url("compat/chat/completions"), compat_model(model_id), True)

    def embeddings(self, model_id: str) -> Destination:
        if model_id.startswith(WORKERS_AI_PREFIXES):
            return Destination(self._account.gateway_url("workers-ai/v1/embeddings"), model_id, True)
        return Destination(self._account.gateway_url("compat/embeddings"), model_id, True)


TARGET_TYPES: tuple[type[Target], ...] = (WorkersAIRun, WorkersAIOpenAI, GatewayCompat)


class Targets:
    """One of each target for the account, the account's other URLs, and the headers every call carries."""

    def __init__(
        self,
        api_base: str,
        account_id: str,
        gateway_base: str | None = None,
        gateway_id: str | None = None,
        gateway_token: str | None = None,
        types: tuple[type[Target], ...] | None = None,
    ) -> None:
        base = api_base.rstrip("/")
        api = f"{base}/accounts/{account_id}/"
        gateway = f"{gateway_base.rstrip('/')}/{account_id}/{gateway_id}/" if gateway_base and gateway_id else None
        self.account = Account(base, api + "ai/", api, gateway)
        self._by_name = {kind.name: kind(self.account) for kind in types or TARGET_TYPES}
        self.gateway_id = gateway_id
        self._gateway_auth = {"cf-aig-authorization": f"Bearer {gateway_token}"} if gateway_token else {}

    def __getitem__(self, name: str) -> Target:
        return self._by_name[name]

    @property
    def has_gateway(self) -> bool:
        return self.account.gateway is not None

    def run(self, model_id: str) -> Destination:
        """Workers AI's own route for a model, whatever route chat takes: the only one that serves images, audio,
        rerankers and classifiers (`/ai/run/{model}`, or the gateway's workers-ai provider route)."""
        if self.account.gateway is not None:
            return Destination(self.account.gateway + "workers-ai/" + model_id, model_id, True)
        return Destination(self.account.ai + "run/" + model_id, model_id, False)

    def catalogue_url(self) -> str:
        return self.account.ai + "models/search"

    def token_verify_url(self) -> str:
        return self.account.base + "/user/tokens/verify"

    def account_token_verify_url(self) -> str:
        return self.account.api + "tokens/verify"

    def gateway_url(self) -> str:
        return f"{self.account.api}ai-gateway/gateways/{self.gateway_id}"

    def gateway_logs_url(self, log_id: str) -> str:
        return f"{self.gateway_url()}/logs/{log_id}"

    def headers(self, token: str, *, stream: bool, gateway: bool, extra: dict[str, str] | None = None) -> httpx.Headers:
        if not gateway or not (self._gateway_auth or extra):
            return auth_headers(token, stream=stream)
        headers = dict(STREAM_HEADERS if stream else JSON_HEADERS)
        headers["Authorization"] = f"Bearer {token}"
        headers.update(self._gateway_auth)
        headers.update(extra or {})
        return httpx.Headers(headers)


def compat_model(model_id: str) -> str:
    """AI Gateway's unified API names models `{provider}/{model}`: Workers AI ids get `workers-ai/`."""
    return "workers-ai/" + model_id if model_id.startswith(WORKERS_AI_PREFIXES) else model_id


def media_headers(headers: httpx.Headers, content_type: str) -> httpx.Headers:
    """A call's headers for a body that may not be JSON and a reply that may be an image or audio."""
    made = httpx.Headers(headers)
    made["Content-Type"] = content_type
    made["Accept"] = "*/*"
    return made


@lru_cache(maxsize=256)
def auth_headers(token: str, *, stream: bool) -> httpx.Headers:
    """Built once per token: httpx normalizes every header it is given, ~5 us per request otherwise."""
    headers = dict(STREAM_HEADERS if stream else JSON_HEADERS)
    headers["Authorization"] = f"Bearer {token}"
    return httpx.Headers(headers)
