"""OpenAI's image options as a Workers AI model can take them: `size` as width and height within the model's range,
`quality` as its number of steps, `style` as its guidance; and what an image's bytes say they are."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import InvalidRequest
from app.models.media import ImageModel

SIZE = re.compile(r"(\d{1,5})x(\d{1,5})")
QUALITIES = {"standard": False, "auto": False, "low": False, "medium": False, "hd": True, "high": True}
GUIDANCE = {"vivid": 9.0, "natural": 5.0}  # how closely the image follows the prompt


@dataclass(frozen=True, slots=True)
class SourceImage:
    """An image sent to be edited (or a mask)."""

    data: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ImagePlan:
    prompt: str
    width: int | None = None
    height: int | None = None
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    seed: int | None = None
    negative_prompt: str | None = None


def plan_image(
    family: ImageModel,
    model: str,
    prompt: str,
    size: str | None,
    quality: str | None,
    style: str | None,
    seed: int | None = None,
    negative_prompt: str | None = None,
) -> ImagePlan:
    width, height = _size(family, model, size)
    if quality is not None and quality not in QUALITIES:
        raise InvalidRequest(
            f"Invalid value for 'quality': {quality!r}; use one of {', '.join(QUALITIES)}.", param="quality"
        )
    if style is not None and style not in GUIDANCE:
        raise InvalidRequest(f"Invalid value for 'style': {style!r}; use 'vivid' or 'natural'.", param="style")
    steps = family.max_steps if quality is not None and QUALITIES[quality] and family.steps_field else None
    guidance = GUIDANCE[style] if style is not None and family.guidance else None  # else: no equivalent, ignored
    return ImagePlan(prompt, width, height, steps, guidance, seed, negative_prompt)


def _size(family: ImageModel, model: str, size: str | None) -> tuple[int | None, int | None]:
    if size is None or size == "auto":
        return None, None
    found = SIZE.fullmatch(size)
    if found is None:
        raise InvalidRequest(f"Invalid value for 'size': {size!r}; use WIDTHxHEIGHT, e.g. 1024x1024.", param="size")
    width, height = int(found.group(1)), int(found.group(2))
    if family.sizes is None:
        if family.native == (width, height):
            return None, None  # the size it makes anyway
        made = f" ({family.native[0]}x{family.native[1]})" if family.native else ""
        raise InvalidRequest(
            f"{model} makes images of one size{made} and takes no other 'size': leave it out or use 'auto'.",
            param="size",
        )
    low, high = family.sizes
    if not (low <= width <= high and low <= height <= high):
        raise InvalidRequest(
            f"Invalid value for 'size': {size!r}; {model} takes widths and heights from {low} to {high} pixels.",
            param="size",
        )
    return width, height


def image_type(data: bytes, declared: str = "") -> str:
    """The image's content type from its first bytes (what a model declared, when they say nothing)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return declared if declared.startswith("image/") else "application/octet-stream"
