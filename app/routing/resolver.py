"""Model names -> Route: aliases, id validation, the upstream chosen for the model, and what the account's catalogue
says the model can do. Every 'no such model' and 'not this kind of model' answer is worded here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from app.errors import InvalidRequest, ModelNotFound
from app.models.capabilities import capabilities_of
from app.models.catalogue import CatalogueEntry, ModelCatalogue
from app.models.guide import unknown_model
from app.routing.route import Route
from app.routing.upstreams import UPSTREAMS

# Workers AI ids: `@cf/<author>/<name>` or `@hf/<author>/<name>`. Only these characters may reach an
# upstream URL; anything else (`..`, `%2F`, `?`, `#`, spaces, controls) is refused before any call.
MODEL_ID = re.compile(r"@(?:cf|hf)/[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*){1,2}")
# Through AI Gateway's unified API, other providers' models: `openai/gpt-4.1-mini`, `anthropic/...`
PROVIDER_MODEL = re.compile(r"[a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._:-]*(?:/[A-Za-z0-9][A-Za-z0-9._:-]*)*")
# Never part of any model name, and dangerous in a URL path: percent-escapes, query, fragment, backslash,
# whitespace and control characters.
UNSAFE_NAME = re.compile(r"[%?#\\\s\x00-\x1f\x7f]")
MAX_MODEL_NAME = 256  # Workers AI ids are under 100 characters; URLs have a length limit of their own
EXAMPLE_CHAT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


class Router:
    def __init__(
        self,
        aliases: Mapping[str, str],
        default_upstream: str = "native",
        upstream_of: Mapping[str, str] | None = None,
        catalogue: ModelCatalogue | None = None,
        fallbacks: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.aliases = dict(aliases)
        self._default_upstream = default_upstream
        self._upstream_of = dict(upstream_of or {})  # model or alias -> upstream, from the config file
        self.catalogue = catalogue
        self._fallbacks = dict(fallbacks or {})
        named = [*self.aliases, *self.aliases.values(), *self._upstream_of, *self._fallbacks]
        self._known_names = frozenset([*named, *(name for names in self._fallbacks.values() for name in names)])

    def route(self, name: str, task: str | None = None, endpoint: str = "") -> Route:
        """A model name -> its route, with what the account's catalogue says the model can do; a model of
        another task than `task` (chat, embeddings) is refused, naming `endpoint`."""
        try:
            route = self.resolve(name)
        except ModelNotFound:
            raise unknown_model(name, name, self.candidates()) from None
        entry = self.catalogue.entry(route.model_id) if self.catalogue is not None else None
        route = with_catalogue(route, entry)
        if task is not None:
            self.check_task(route, task, endpoint)
        return route

    def knows(self, model_id: str) -> bool:
        """A model the catalogue, the aliases or the fallbacks name (metrics label only these)."""
        if self.catalogue is not None and self.catalogue.entry(model_id) is not None:
            return True
        return model_id in self._known_names

    def fallbacks(self, route: Route) -> list[str]:
        return self._fallbacks.get(route.requested) or self._fallbacks.get(route.model_id) or []

    def check_task(self, route: Route, wanted: str, endpoint: str) -> None:
        known = self.catalogue.task_of(route.model_id) if self.catalogue is not None else None
        if known is not None and known != wanted:
            raise InvalidRequest(
                f"{route.requested} is a {known} model; {endpoint} needs a {wanted} model.",
                param="model",
                code="model_not_supported",
            )

    def unknown(self, route: Route, gone: ModelNotFound) -> ModelNotFound:
        """Workers AI said it does not serve the model (any more): say what to use instead."""
        return unknown_model(route.requested, route.model_id, self.candidates(), detail=gone.message)

    def candidates(self) -> list[str]:
        known = self.catalogue.known_ids() if self.catalogue is not None else []
        return [*known, *self.aliases]

    def resolve(self, name: str) -> Route:
        """The name alone (no catalogue): aliases, the upstream chosen for it, and a safe model id."""
        if len(name) > MAX_MODEL_NAME:
            raise InvalidRequest(
                f"Invalid model name: longer than {MAX_MODEL_NAME} characters.", param="model", code="invalid_value"
            )
        if UNSAFE_NAME.search(name) or ".." in name:
            raise InvalidRequest(
                f"Invalid model name {name!r}: model names use letters, digits, '.', '_', '-', ':', '@' and '/'.",
                param="model",
                code="invalid_value",
            )
        model_id = self.aliases.get(name, name)
        upstream_name = self._upstream_of.get(name) or self._upstream_of.get(model_id) or self._default_upstream
        upstream = UPSTREAMS[upstream_name]
        if upstream.needs_gateway and model_id.startswith("workers-ai/"):
            model_id = model_id.removeprefix("workers-ai/")
        route = Route(name, model_id, upstream_name, upstream.dialect, upstream.target)
        if MODEL_ID.fullmatch(model_id) and ".." not in model_id:
            return replace(route, capabilities=capabilities_of(model_id))
        if upstream.needs_gateway and PROVIDER_MODEL.fullmatch(model_id) and ".." not in model_id:
            return route  # another provider's model through AI Gateway's unified API
        if model_id.startswith(("@cf/", "@hf/")):
            raise InvalidRequest(
                f"Invalid model id {model_id!r}: Workers AI ids use only letters, digits, '.', '_', '-' "
                "and '/' separators.",
                param="model",
                code="invalid_value",
            )
        raise ModelNotFound(
            f"The model {name!r} does not exist. Use a Workers AI model id such as {EXAMPLE_CHAT_MODEL} "
            "or an alias configured in PROXY_MODEL_ALIASES.",
            param="model",
        )


def with_catalogue(route: Route, entry: CatalogueEntry | None) -> Route:
    """The route's capabilities, corrected where the account's catalogue says otherwise (tools, vision).
    Usually the two agree and the route is returned as it is."""
    if entry is None or not entry.capabilities:
        return route
    capabilities = route.capabilities
    tools = entry.capabilities.get("tools")
    if tools is True and capabilities.tools == "none":
        capabilities = replace(capabilities, tools="openai")
    elif tools is False and capabilities.tools != "none":
        capabilities = replace(capabilities, tools="none")
    vision = entry.capabilities.get("vision")
    if vision is not None and capabilities.vision is not vision:
        capabilities = replace(capabilities, vision=vision)
    return route if capabilities is route.capabilities else replace(route, capabilities=capabilities)
