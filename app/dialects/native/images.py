"""Image models on `/ai/run/{model}` (wire spec 1.2, 1.4, 9.2): JSON bodies (FLUX.1, Stable Diffusion, Leonardo) or
multipart ones (FLUX.2); answered with `{"image": base64}` in the envelope or the image's own bytes."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from app.dialects.common import base64_field
from app.media.images import ImagePlan, SourceImage, image_type
from app.media.multipart import Part, encode
from app.models.media import ImageModel


def build_image(
    family: ImageModel, plan: ImagePlan, sources: list[SourceImage] | None = None, mask: SourceImage | None = None
) -> tuple[bytes, str]:
    """The request body and its Content-Type."""
    if family.wire == "multipart":
        parts = [Part("prompt", plan.prompt)]
        for name, value in _options(family, plan).items():
            parts.append(Part(name, str(value)))
        for index, source in enumerate((sources or [])[:4]):  # input_image_0 .. input_image_3
            parts.append(Part(f"input_image_{index}", source.data, f"image{index}", source.content_type))
        return encode(parts)
    body: dict[str, Any] = {"prompt": plan.prompt, **_options(family, plan)}
    if plan.negative_prompt and family.guidance:
        body["negative_prompt"] = plan.negative_prompt
    if sources:
        if family.edits == "image_b64":
            body["image_b64"] = base64.b64encode(sources[0].data).decode()
        else:
            body["image"] = list(sources[0].data)  # an array of bytes, as these models' schema has it
        if mask is not None and family.mask:
            body["mask"] = list(mask.data)
    return orjson.dumps(body), "application/json"


def _options(family: ImageModel, plan: ImagePlan) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if plan.steps is not None and family.steps_field is not None:
        options[family.steps_field] = plan.steps
    if plan.width is not None and plan.height is not None:
        options["width"], options["height"] = plan.width, plan.height
    if plan.guidance is not None:
        options["guidance"] = plan.guidance
    if plan.seed is not None:
        options["seed"] = plan.seed
    return options


def parse_image(body: bytes | None, result: Any, content_type: str) -> tuple[bytes, str]:
    """The image and its content type, whichever way the model sent it."""
    if body is not None:
        return body, image_type(body, content_type)
    data = base64_field(result, "image", "an image")
    return data, image_type(data, "image/png")
