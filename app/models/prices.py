"""What a request costs in neurons, Workers AI's unit ($0.011 per 1,000; 10,000 a day free, reset 00:00 UTC).

Rates are neurons per million input, cached input and output tokens: the account's catalogue `price` where it
gives one (USD per M tokens), else the table below from Cloudflare's pricing page (wire spec section 7), else a
default rate, marked as such. Embeddings count input only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.protocol.common import Usage

NEURONS_PER_USD = 1000 / 0.011


@dataclass(frozen=True, slots=True)
class Rate:
    input: float  # neurons per million input tokens
    output: float
    cached: float | None = None  # per million cached input tokens (None: as input)
    known: bool = True  # False: the default rate, for a model with no price known


def _usd(input_usd: float, output_usd: float, cached_usd: float | None = None) -> Rate:
    cached = cached_usd * NEURONS_PER_USD if cached_usd is not None else None
    return Rate(input_usd * NEURONS_PER_USD, output_usd * NEURONS_PER_USD, cached)


# neurons per M tokens (pricing page) or USD per M (model pages), wire spec section 7 and 9
RATES: dict[str, Rate] = {
    "@cf/meta/llama-3.2-1b-instruct": Rate(2457, 18252),
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": Rate(26668, 204805),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": Rate(45170, 443756),
    "@cf/meta/llama-3.1-8b-instruct": Rate(25608, 75147),
    "@cf/baai/bge-small-en-v1.5": Rate(1841, 0),
    "@cf/baai/bge-base-en-v1.5": Rate(6058, 0),
    "@cf/baai/bge-large-en-v1.5": Rate(18582, 0),
    "@cf/meta/m2m100-1.2b": Rate(31050, 31050),
    "@cf/openai/gpt-oss-120b": _usd(0.35, 0.75),
    "@cf/qwen/qwq-32b": _usd(0.66, 1.00),
    "@cf/mistralai/mistral-small-3.1-24b-instruct": _usd(0.35, 0.56),
    "@cf/google/gemma-3-12b-it": _usd(0.35, 0.56),
    "@cf/moonshotai/kimi-k2.6": _usd(0.95, 4.00, 0.16),
    "@cf/zai-org/glm-5.3": _usd(1.40, 4.40, 0.26),
}
DEFAULT = Rate(_usd(0.35, 0.75).input, _usd(0.35, 0.75).output, known=False)  # gpt-oss-120b's: a middle rate


def rate_of(model_id: str, pricing: list[dict[str, Any]] | None = None) -> Rate:
    """The model's rate: from the catalogue's `price` entries when they name input and output, else the table."""
    if pricing:
        per_unit = {str(p.get("unit", "")): p.get("price") for p in pricing}
        given = [per_unit.get(f"per M {kind} tokens") for kind in ("input", "output", "cached input")]
        if isinstance(given[0], int | float) and isinstance(given[1], int | float):
            cached = given[2] if isinstance(given[2], int | float) else None
            return _usd(float(given[0]), float(given[1]), float(cached) if cached is not None else None)
    return RATES.get(model_id, DEFAULT)


def neurons(rate: Rate, usage: Usage | None) -> float:
    if usage is None:
        return 0.0
    prompt = usage.get("prompt_tokens", 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0
    completion = usage.get("completion_tokens", 0)
    cached_rate = rate.cached if rate.cached is not None else rate.input
    return ((prompt - cached) * rate.input + cached * cached_rate + completion * rate.output) / 1_000_000


def cost_of(rate: Rate, usage: Usage | None, priced: float | None = None) -> float:
    """What a request cost: its own price when it has one (media: per image, minute, character), else its tokens."""
    return priced if priced is not None else neurons(rate, usage)


def worst_case(rate: Rate, tokens: int) -> float:
    """What `tokens` can cost at most (every one at the dearer rate): what a budget reserves."""
    return tokens * max(rate.input, rate.output) / 1_000_000
