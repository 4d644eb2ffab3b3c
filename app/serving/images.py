"""POST /v1/images/generations and /v1/images/edits: the options planned for the model's family, `n` images made by
parallel calls, answered as base64 (the default) or as URLs served by the proxy (`GET /v1/images/files/{id}`)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from app.dialects.native.images import build_image, parse_image
from app.errors import InvalidRequest
from app.exchange import Exchange
from app.media.images import ImagePlan, SourceImage, plan_image
from app.models.media import IMAGE_MODELS, IMAGES, ImageModel, image_model
from app.models.media_prices import DEFAULT_STEPS, image_neurons
from app.pipeline.core import Pipeline, Reply
from app.pipeline.gather import gather_all
from app.protocol.images import Image, ImageGenerationRequest
from app.routing.route import Route
from app.stores.image_files import ImageFiles

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
FILES = "/v1/images/files/"
OPENAI_NAMES = frozenset({"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"})


@dataclass(frozen=True, slots=True)
class ImageEdit:
    """An edit as the multipart form carried it."""

    prompt: str
    images: list[SourceImage]
    mask: SourceImage | None = None
    model: str | None = None
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    response_format: str | None = None
    seed: int | None = None


class Images:
    def __init__(
        self, pipeline: Pipeline, files: ImageFiles, default_model: str, max_n: int, max_image_bytes: int
    ) -> None:
        self.pipeline, self.files, self.default_model, self.max_n = pipeline, files, default_model, max_n
        self.max_image_bytes = max_image_bytes  # each uploaded image or mask

    async def generate(self, request: ImageGenerationRequest, exchange: Exchange, base_url: str) -> Reply:
        route, family = self._route(exchange, request.model, GENERATIONS)
        if family.needs_image:
            raise InvalidRequest(
                f"{route.requested} changes an image: send it to /v1/images/edits with the image.", param="model"
            )
        plan = plan_image(
            family,
            route.requested,
            request.prompt,
            request.size,
            request.quality,
            request.style,
            request.seed,
            request.negative_prompt,
        )
        return await self._run(exchange, route, family, plan, [], None, request.n, request.response_format, base_url)

    async def edit(self, edit: ImageEdit, exchange: Exchange, base_url: str) -> Reply:
        route, family = self._route(exchange, edit.model, EDITS)
        if family.edits == "none":
            takers = ", ".join(sorted(m for m, f in IMAGE_MODELS.items() if f.edits != "none"))
            raise InvalidRequest(
                f"{route.requested} does not take an input image; models that do: {takers}.", param="model"
            )
        if not edit.images:
            raise InvalidRequest("Missing required parameter: 'image'.", param="image")
        plan = plan_image(family, route.requested, edit.prompt, edit.size, edit.quality, None, edit.seed)
        return await self._run(
            exchange, route, family, plan, edit.images, edit.mask, edit.n, edit.response_format, base_url
        )

    def _route(self, exchange: Exchange, model: str | None, path: str) -> tuple[Route, ImageModel]:
        name = self.default_model if model is None or model in OPENAI_NAMES else model
        route = self.pipeline.route(exchange, name, IMAGES, path)
        return route, image_model(route.model_id)

    async def _run(
        self,
        exchange: Exchange,
        route: Route,
        family: ImageModel,
        plan: ImagePlan,
        sources: list[SourceImage],
        mask: SourceImage | None,
        n: int | None,
        response_format: str | None,
        base_url: str,
    ) -> Reply:
        count = n or 1
        if count > self.max_n:
            raise InvalidRequest(f"'n' may be at most {self.max_n} here (PROXY_MAX_N).", param="n")
        if response_format not in (None, "b64_json", "url"):
            raise InvalidRequest(
                "Invalid value for 'response_format': use 'b64_json' or 'url'.", param="response_format"
            )
        body, content_type = build_image(family, plan, sources, mask)
        self.pipeline.estimate_tokens(exchange, 0)

        async def serve(route: Route, deadline: float) -> Reply:
            call = self.pipeline.call(exchange, route, "media", deadline)
            client = self.pipeline.client
            replies = await gather_all([client.media(call, body, content_type) for _ in range(count)])
            data: list[Image] = []
            headers: dict[str, str] = {}
            for reply in replies:
                image, kind = parse_image(reply.body, reply.result, reply.content_type)
                headers.update(reply.headers)
                if response_format == "url":
                    data.append({"url": base_url + FILES + await self.files.keep(image, kind)})
                else:
                    data.append({"b64_json": base64.b64encode(image).decode()})
            steps = plan.steps or DEFAULT_STEPS.get(family.steps_field or "", 0)
            pricing = self.pipeline.catalogue.pricing(route.model_id)
            each = image_neurons(route.model_id, pricing, plan.width, plan.height, steps)
            exchange.neurons = each * count
            answer: dict[str, Any] = {"created": int(time.time()), "data": data}
            return Reply(answer, headers)

        return await self.pipeline.run(exchange, route, serve)
