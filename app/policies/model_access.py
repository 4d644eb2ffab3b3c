"""A named key restricted to some models (`--models PATTERN,...`, glob patterns) is refused the others with a 403
before any upstream call; the pattern may name the model as asked (an alias) or as served."""

from __future__ import annotations

from fnmatch import fnmatchcase

from app.errors import PermissionDenied
from app.exchange import Exchange


class ModelAccess:
    __slots__ = ()

    async def admit(self, exchange: Exchange) -> None:
        identity = exchange.identity
        if identity is None or identity.access is None or not identity.access.models:
            return
        asked = exchange.model_asked
        if asked is None:  # no model involved (the model list, stored responses)
            return
        names = {asked} | ({exchange.route.model_id} if exchange.route is not None else set())
        if not any(fnmatchcase(name, pattern) for name in names for pattern in identity.access.models):
            raise PermissionDenied(
                f"The API key {identity.name!r} may not use the model {asked!r}.", code="model_not_allowed"
            )
