"""Secrets never ride along with relayed messages: the server's tokens always, a client's key only when it is
long enough to be a secret (see `redact`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from app.policies.identity import bearer_token

REDACTED = "[redacted]"
MIN_KEY_SECRET = 12  # a client key this long is redacted wherever it appears
MIN_KEY_WORD = 6  # shorter than this, a key is a placeholder, not a secret


@dataclass(frozen=True, slots=True)
class Secrets:
    server: tuple[str, ...]  # the Cloudflare and AI Gateway tokens: never shown, whatever their length
    keys: tuple[str, ...] = ()  # the client keys of PROXY_API_KEYS


def redact(message: str, request: Request, secrets: Secrets) -> str:
    """Upstream messages are relayed; make sure no secret rides along with them, without damaging them.

    The server's own tokens are removed wherever they appear. A client's key (configured, or presented as the
    bearer token) is a secret only if it is long enough to be one: placeholder keys such as `x`, `sk-local` or
    `model` are what people use with a local proxy, and removing every `x` from a message would make it
    unreadable. Keys of MIN_KEY_WORD to MIN_KEY_SECRET characters are removed only as whole words.
    """
    return scrub(message, secrets, bearer_token(request.headers.get("authorization")))


def scrub(message: str, secrets: Secrets, presented: str | None = None) -> str:
    """`redact` without a request: the server's tokens and the configured keys (and a presented one)."""
    for secret in secrets.server:
        if secret in message:
            message = message.replace(secret, REDACTED)
    for key in (*secrets.keys, presented):
        if not key or len(key) < MIN_KEY_WORD or key not in message:
            continue
        if len(key) >= MIN_KEY_SECRET:
            message = message.replace(key, REDACTED)
        else:
            message = re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])", REDACTED, message)
    return message
