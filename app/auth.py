"""Who may use the proxy, and which Cloudflare token a request travels upstream with.

Three modes (settings): client keys (`PROXY_API_KEYS`) checked in constant time, then the server token is
used; no keys and a server token: open access; no server token: pass-through, the client's own bearer
token *is* the Cloudflare token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from app.errors import AuthenticationFailed


class ClientAuth:
    __slots__ = ("_keys", "_server_token", "_tenant_key")

    def __init__(self, api_keys: list[str], server_token: str | None) -> None:
        self._keys = [key.encode() for key in api_keys]
        self._server_token = server_token
        self._tenant_key = secrets.token_bytes(32)  # per process: tenant ids say nothing outside it

    def tenant(self, upstream_token: str) -> str:
        """Who a failure upstream belongs to: "" for the server's own token; in pass-through mode an opaque
        id of the caller's token (a keyed hash: the token itself is never kept as a key)."""
        if self._server_token is not None:
            return ""
        return hmac.new(self._tenant_key, upstream_token.encode(), hashlib.sha256).hexdigest()[:32]

    def upstream_token(self, authorization: str | None) -> str:
        presented = bearer_token(authorization)
        if self._keys:
            if presented is None:
                raise AuthenticationFailed("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.")
            if not self._is_known(presented.encode()):
                raise AuthenticationFailed("Incorrect API key provided.")
        if self._server_token is not None:
            return self._server_token
        if presented is None:
            raise AuthenticationFailed(
                "This proxy forwards your own Cloudflare API token (pass-through mode): send it as "
                "'Authorization: Bearer <token>'."
            )
        return presented

    def _is_known(self, presented: bytes) -> bool:
        match = False
        for key in self._keys:  # no early exit: the time taken does not say which key matched
            match |= hmac.compare_digest(presented, key)
        return match


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
