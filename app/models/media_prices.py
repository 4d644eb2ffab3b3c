"""What an image, a minute of audio or a thousand characters of speech cost, in neurons: the account's catalogue
`price` where it names these units, else Cloudflare's model pages (wire spec section 7, the models' schema files)."""

from __future__ import annotations

import math
from typing import Any

from app.models.prices import NEURONS_PER_USD

TILE = "per 512 by 512 tile"
STEP = "per step"
AUDIO_MINUTE = "per audio minute"
THOUSAND_CHARACTERS = "per 1k characters"

# USD per unit
PRICES: dict[str, dict[str, float]] = {
    "@cf/black-forest-labs/flux-1-schnell": {TILE: 0.0000528, STEP: 0.0001056},
    "@cf/leonardo/lucid-origin": {TILE: 0.007, STEP: 0.000132},
    "@cf/openai/whisper": {AUDIO_MINUTE: 0.0005},
    "@cf/openai/whisper-tiny-en": {AUDIO_MINUTE: 0.0005},
    "@cf/openai/whisper-large-v3-turbo": {AUDIO_MINUTE: 0.0005},
    "@cf/deepgram/nova-3": {AUDIO_MINUTE: 0.0052},
    "@cf/deepgram/aura-2-en": {THOUSAND_CHARACTERS: 0.03},
    "@cf/deepgram/aura-2-es": {THOUSAND_CHARACTERS: 0.03},
}
DEFAULT_STEPS = {"steps": 4, "num_steps": 20}  # what a model does when asked for no number of steps
DEFAULT_SIDE = 1024  # the width and height of an image asked for no size


def image_neurons(
    model_id: str, pricing: list[dict[str, Any]] | None, width: int | None, height: int | None, steps: int
) -> float:
    prices = _prices(model_id, pricing)
    tiles = math.ceil((width or DEFAULT_SIDE) / 512) * math.ceil((height or DEFAULT_SIDE) / 512)
    return (tiles * prices.get(TILE, 0.0) + steps * prices.get(STEP, 0.0)) * NEURONS_PER_USD


def audio_neurons(model_id: str, pricing: list[dict[str, Any]] | None, seconds: float) -> float:
    return seconds / 60 * _prices(model_id, pricing).get(AUDIO_MINUTE, 0.0) * NEURONS_PER_USD


def speech_neurons(model_id: str, pricing: list[dict[str, Any]] | None, characters: int) -> float:
    return characters / 1000 * _prices(model_id, pricing).get(THOUSAND_CHARACTERS, 0.0) * NEURONS_PER_USD


def _prices(model_id: str, pricing: list[dict[str, Any]] | None) -> dict[str, float]:
    listed = {
        str(item.get("unit")): float(item["price"])
        for item in pricing or []
        if isinstance(item, dict) and isinstance(item.get("price"), int | float)
    }
    return {**PRICES.get(model_id, {}), **listed}
