"""GET /v1/models and /v1/models/{model}: the account's catalogue in OpenAI shape, aliases included."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.errors import ModelNotFound
from app.exchange import Exchange
from app.models.catalogue import CatalogueEntry, ModelCatalogue
from app.pipeline.core import Pipeline


class Models:
    def __init__(self, pipeline: Pipeline, catalogue: ModelCatalogue, aliases: dict[str, str]) -> None:
        self.pipeline = pipeline
        self.catalogue = catalogue
        self.aliases = aliases

    async def list_all(self, exchange: Exchange) -> tuple[list[dict[str, Any]], str]:
        """The models and where the list came from (the account, or the bundled list)."""
        result: tuple[list[dict[str, Any]], str] = await self.pipeline.run_local(exchange, self._all)
        return result

    async def retrieve(self, name: str, exchange: Exchange) -> tuple[dict[str, Any], str]:
        exchange.model_asked = name

        async def one() -> tuple[dict[str, Any], str]:
            models, source = await self._all()
            for model in models:
                if model["id"] == name:
                    return model, source
            raise ModelNotFound(f"The model {name!r} does not exist.", param="model")

        result: tuple[dict[str, Any], str] = await self.pipeline.run_local(exchange, one)
        return result

    async def _all(self) -> tuple[list[dict[str, Any]], str]:
        entries = {entry.id: entry for entry in await self.catalogue.entries()}
        models = [entry.openai() for entry in entries.values()]
        for alias, model_id in self.aliases.items():
            target = entries.get(model_id) or CatalogueEntry(id=model_id, task="unknown")
            models.append(replace(target, id=alias).openai(alias_for=model_id))
        return models, self.catalogue.source
