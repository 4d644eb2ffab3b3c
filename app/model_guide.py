"""What the proxy tells a client about the model it named: the closest known ids when the name is unknown, the
successor when the model was retired, a deprecation date ahead of time; and what a route may do, as the
account's catalogue says (wire spec 9.1, 9.13). Pure functions: the proxy supplies what is known."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace

from app.catalog import Route
from app.errors import ModelNotFound
from app.known_models import RETIRED_ON, successor
from app.model_catalogue import CatalogueEntry

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


def with_catalogue(route: Route, entry: CatalogueEntry | None) -> Route:
    """The route's traits, corrected where the account's catalogue says otherwise (tools, vision). Usually the
    two agree and the route is returned as it is."""
    if entry is None or not entry.capabilities:
        return route
    traits = route.traits
    tools = entry.capabilities.get("tools")
    if tools is True and traits.tools == "none":
        traits = replace(traits, tools="openai")
    elif tools is False and traits.tools != "none":
        traits = replace(traits, tools="none")
    vision = entry.capabilities.get("vision")
    if vision is not None and traits.vision is not vision:
        traits = replace(traits, vision=vision)
    return route if traits is route.traits else replace(route, traits=traits)
