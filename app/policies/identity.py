"""Who the caller is, and which Cloudflare token its request travels upstream with.

The default guard has three modes (settings): client keys (`PROXY_API_KEYS`, checked in constant time, and the
named keys of `workers-ai-proxy keys`, looked up by their hash), then the server token is used; no keys and a server
token: open access; no server token: pass-through, the client's own bearer token *is* the Cloudflare token.
Identities carry a name for logs and metrics, never the key or token, and what a named key may do.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from app.errors import AuthenticationFailed

if TYPE_CHECKING:
    from app.policies.named_keys import NamedKeys
    from app.stores.keys import KeyRecord, ModelLimit


@dataclass(frozen=True, slots=True)
class Access:
    """What a named key may do; None fields fall back to the server's defaults (PROXY_KEY_RPM, ...)."""

    models: tuple[str, ...] = ()  # glob patterns (empty: every model)
    rpm: int | None = None
    tpm: int | None = None
    daily_neurons: int | None = None
    monthly_neurons: int | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None
    model_limits: tuple[ModelLimit, ...] = ()  # per key and model: rpm / tpm of the models a pattern matches

    @property
    def budgeted(self) -> bool:
        return any(
            v is not None for v in (self.daily_neurons, self.monthly_neurons, self.daily_tokens, self.monthly_tokens)
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client presented (header values; the HTTP layer reads them)."""

    authorization: str | None = None
    api_key: str | None = None  # `x-api-key`, as Anthropic's clients send it


@dataclass(frozen=True, slots=True)
class Identity:
    name: str  # "key-1" (the first of PROXY_API_KEYS), a named key's name, "open", "pass-through:<fingerprint>"
    upstream_token: str = field(repr=False)  # never logged
    tenant: str = ""  # whose breakers a failure counts against: "" for the server's token, else the fingerprint
    access: Access | None = None  # a named key's models and limits


class IdentityGuard(Protocol):
    async def identify(self, credentials: Credentials) -> Identity:
        """The caller's identity, or AuthenticationFailed (401)."""


class KeyGuard:
    __slots__ = ("_identities", "_keys", "_named", "_named_identities", "_now", "_server_token")

    def __init__(
        self,
        api_keys: list[str],
        server_token: str | None,
        named: NamedKeys | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`named`: the named keys, consulted when there is a server token (not in pass-through mode)."""
        self._keys = [key.encode() for key in api_keys]
        self._server_token = server_token
        self._named = named if server_token is not None else None
        self._named_identities: dict[str, tuple[KeyRecord, Identity]] = {}  # by key hash, with the record it is of
        self._now = now
        token = server_token or ""
        self._identities = [Identity(f"key-{i + 1}", token) for i in range(len(api_keys))] or [Identity("open", token)]

    async def identify(self, credentials: Credentials) -> Identity:
        presented = bearer_token(credentials.authorization) or credentials.api_key or None
        # PROXY_API_KEYS first: they hold whatever becomes of the named keys' store
        matched = self._match(presented.encode()) if presented is not None and self._keys else None
        if matched is not None:
            return self._identities[matched]
        if presented is not None and self._named is not None:
            named = await self._named.find(presented)
            if named is not None:  # a revoked or expired key is refused even where no key is needed
                return self._named_identity(named)
        if self._keys or (self._named is not None and await self._named.any()):
            if presented is None:
                raise AuthenticationFailed("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.")
            raise AuthenticationFailed("Incorrect API key provided.")
        if self._server_token is not None:
            return self._identities[0]
        if presented is None:
            raise AuthenticationFailed(
                "This proxy forwards your own Cloudflare API token (pass-through mode): send it as "
                "'Authorization: Bearer <token>'."
            )
        return pass_through(presented)

    def _named_identity(self, named: KeyRecord) -> Identity:
        known = self._named_identities.get(named.key_hash)
        if known is not None and known[0] is named and (named.expires is None or named.expires > self._now()):
            return known[1]  # the same record as last time: its identity, made once
        if named.revoked:
            raise AuthenticationFailed(f"The API key {named.name!r} has been revoked.", code="key_revoked")
        if named.expires is not None and named.expires <= self._now():
            raise AuthenticationFailed(f"The API key {named.name!r} has expired.", code="key_expired")
        access = Access(
            named.models,
            named.rpm,
            named.tpm,
            named.daily_neurons,
            named.monthly_neurons,
            named.daily_tokens,
            named.monthly_tokens,
            named.model_limits,
        )
        identity = Identity(named.name, self._server_token or "", access=access)
        if len(self._named_identities) >= 10_000:
            self._named_identities.clear()
        self._named_identities[named.key_hash] = (named, identity)
        return identity

    def _match(self, presented: bytes) -> int | None:
        matched = None
        for i, key in enumerate(self._keys):  # no early exit: the time taken does not say which key matched
            if hmac.compare_digest(presented, key):
                matched = i
        return matched


def pass_through(token: str) -> Identity:
    """A caller known only by its Cloudflare token: named by a fingerprint that cannot be turned back into it."""
    fingerprint = hashlib.sha256(b"workers-ai-proxy:" + token.encode()).hexdigest()[:16]
    return Identity(f"pass-through:{fingerprint}", token, fingerprint)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
