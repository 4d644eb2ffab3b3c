"""Model names -> Route: aliases, id validation, and what the proxy knows of each model up front."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.errors import InvalidRequest, ModelNotFound
from app.traits import UNKNOWN, ModelTraits, traits_for

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
DEFAULT_EMBEDDING_BATCH = 100  # `text` maxItems in every Workers AI embedding schema


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    dimensions: int
    max_batch: int = DEFAULT_EMBEDDING_BATCH


# Output sizes from the Workers AI model pages (bge-*-en), model cards otherwise (see the wire spec).
EMBEDDING_MODELS: Mapping[str, EmbeddingModel] = {
    "@cf/baai/bge-small-en-v1.5": EmbeddingModel(384),
    "@cf/baai/bge-base-en-v1.5": EmbeddingModel(768),
    "@cf/baai/bge-large-en-v1.5": EmbeddingModel(1024),
    "@cf/baai/bge-m3": EmbeddingModel(1024),
    "@cf/google/embeddinggemma-300m": EmbeddingModel(768),
    "@cf/qwen/qwen3-embedding-0.6b": EmbeddingModel(1024),
}


@dataclass(frozen=True, slots=True)
class Route:
    """What a requested model name resolves to."""

    requested: str  # as the client wrote it; replies echo it back
    model_id: str  # the Workers AI id (or, through the compat route, `provider/model`)
    kind: str = "native"  # the upstream route: native, openai or compat
    traits: ModelTraits = UNKNOWN

    @property
    def dialect(self) -> str:
        return "native" if self.kind == "native" else "openai"


class Catalog:
    def __init__(
        self, aliases: Mapping[str, str], default_kind: str = "native", kinds: Mapping[str, str] | None = None
    ) -> None:
        self._aliases = dict(aliases)
        self._default_kind = default_kind
        self._kinds = dict(kinds or {})  # model or alias -> upstream route, from the config file

    def resolve(self, name: str) -> Route:
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
        model_id = self._aliases.get(name, name)
        kind = self._kinds.get(name) or self._kinds.get(model_id) or self._default_kind
        if kind == "compat" and model_id.startswith("workers-ai/"):
            model_id = model_id.removeprefix("workers-ai/")
        if MODEL_ID.fullmatch(model_id) and ".." not in model_id:
            return Route(requested=name, model_id=model_id, kind=kind, traits=traits_for(model_id))
        if kind == "compat" and PROVIDER_MODEL.fullmatch(model_id) and ".." not in model_id:
            return Route(requested=name, model_id=model_id, kind=kind)
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

    @staticmethod
    def embedding_model(model_id: str) -> EmbeddingModel | None:
        return EMBEDDING_MODELS.get(model_id)
