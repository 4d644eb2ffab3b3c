"""Named client keys: what a key may do (models, rate limits, budgets, expiry), stored by the hash of the key only.

A key is shown once, when it is made; afterwards the proxy knows only its SHA-256, which is what it looks a
presented key up by.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

KEY_PREFIX = "wap-"


@dataclass(frozen=True, slots=True)
class ModelLimit:
    """Requests and tokens per minute of one key on each model a glob pattern matches (each model counted alone)."""

    pattern: str
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    name: str
    key_hash: str  # SHA-256 of the key, hex
    models: tuple[str, ...] = ()  # glob patterns of the models it may use (empty: all)
    rpm: int | None = None  # requests per minute (None: PROXY_KEY_RPM)
    tpm: int | None = None  # tokens per minute (None: PROXY_KEY_TPM)
    daily_neurons: int | None = None
    monthly_neurons: int | None = None
    expires: float | None = None  # Unix time
    revoked: bool = False
    created: float = 0.0
    daily_tokens: int | None = None  # budgets in tokens, beside or instead of neurons
    monthly_tokens: int | None = None
    model_limits: tuple[ModelLimit, ...] = ()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore(Protocol):
    """Where named keys live. `create` refuses a name in use (ValueError)."""

    async def create(self, record: KeyRecord) -> None: ...

    async def by_hash(self, digest: str) -> KeyRecord | None: ...

    async def all(self) -> list[KeyRecord]: ...

    async def revoke(self, name: str) -> bool: ...

    async def version(self) -> int:
        """A number that changes whenever a key is created or revoked (by this process or another)."""
        ...
