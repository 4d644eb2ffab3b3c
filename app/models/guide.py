"""What the proxy tells a client about the model it named: the closest known ids when the name is unknown, the
successor when the model was retired, a deprecation date ahead of time (wire spec 9.1, 9.13). Pure functions:
the caller supplies what is known."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from app.errors import ModelNotFound
from app.models.catalogue import CatalogueEntry
from app.models.known import RETIRED_ON, successor

DEPRECATION_HEADER = "x-model-deprecation"  # the date a model stops (or stopped) being served


def unknown_model(name: str, model_id: str, candidates: Iterable[str], detail: str | None = None) -> ModelNotFound:
    """A 404 naming `model`, for a name the proxy does not know and for an id Workers AI says it does not serve."""
    replacement = successor(model_id)
    if replacement is not None:
        message = (
            f"The model {name!r} was retired by Workers AI on {RETIRED_ON}; use {replacement!r} instead "
            "(or set an alias in PROXY_MODEL_ALIASES)."
        )
    else:
        close = difflib.get_close_matches(model_id, list(candidates), n=3, cutoff=0.6)
        hint = f" Closest known models: {', '.join(close)}." if close else " GET /v1/models lists the models."
        message = f"The model {name!r} does not exist or is not available to this account.{hint}"
    if detail:
        message += f" ({detail})"
    return ModelNotFound(message, param="model", code="model_not_found")


def deprecation(model_id: str, entry: CatalogueEntry | None) -> str | None:
    """The date the model is (or was) to stop being served, when one is known."""
    if entry is not None and entry.shutdown_date:
        return entry.shutdown_date
    return RETIRED_ON if successor(model_id) is not None else None
