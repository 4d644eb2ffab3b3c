"""Who the caller is, and which Cloudflare token its request travels upstream with.

The default guard has three modes (settings): client keys (`PROXY_API_KEYS`) checked in constant time, then the
server token is used; no keys and a server token: open access; no server token: pass-through, the client's own
bearer token *is* the Cloudflare token. Identities carry a name for logs and metrics, never the key or token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Protocol

from app.errors import AuthenticationFailed


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client presented (header values; the HTTP layer reads them)."""

    authorization: str | None = None
    api_key: str | None = None  # `x-api-key`, as Anthropic's clients send it


@dataclass(frozen=True, slots=True)
class Identity:
    name: str  # "key-1" (the first of PROXY_API_KEYS), "open" (no keys), "pass-through:<fingerprint>"
    upstream_token: str = field(repr=False)  # never logged
    tenant: str = ""  # whose breakers a failure counts against: "" for the server's token, else the fingerprint


class IdentityGuard(Protocol):
    async def identify(self, credentials: Credentials) -> Identity:
        """The caller's identity, or AuthenticationFailed (401)."""


class KeyGuard:
    __slots__ = ("_identities", "_keys", "_server_token")

    def __init__(self, api_keys: list[str], server_token: str | None) -> None:
        self._keys = [key.encode() for key in api_keys]
        self._server_token = server_token
        token = server_token or ""
        self._identities = [Identity(f"key-{i + 1}", token) for i in range(len(api_keys))] or [Identity("open", token)]

    async def identify(self, credentials: Credentials) -> Identity:
        presented = bearer_token(credentials.authorization) or credentials.api_key or None
        if self._keys:
            if presented is None:
                raise AuthenticationFailed("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.")
            matched = self._match(presented.encode())
            if matched is None:
                raise AuthenticationFailed("Incorrect API key provided.")
            return self._identities[matched]
        if self._server_token is not None:
            return self._identities[0]
        if presented is None:
            raise AuthenticationFailed(
                "This proxy forwards your own Cloudflare API token (pass-through mode): send it as "
                "'Authorization: Bearer <token>'."
            )
        return pass_through(presented)

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
