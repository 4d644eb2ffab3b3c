"""Llama Guard 3's verdicts as OpenAI moderation results: `safe`, or `unsafe` with hazard codes S1-S14 (MLCommons'
taxonomy), each mapped to OpenAI's categories (README, "Moderations"). Llama Guard gives no scores: a category it
names scores 1.0, the others 0.0."""

from __future__ import annotations

import re
from typing import Any

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Llama Guard 3 hazard -> OpenAI categories; S6 (specialized advice), S7 (privacy), S8 (intellectual property) and
# S13 (elections) have none: such a verdict is flagged with no category set.
HAZARDS: dict[str, tuple[str, ...]] = {
    "S1": ("violence", "illicit/violent"),  # violent crimes
    "S2": ("illicit",),  # non-violent crimes
    "S3": ("sexual", "illicit/violent"),  # sex-related crimes
    "S4": ("sexual/minors",),  # child sexual exploitation
    "S5": ("harassment",),  # defamation
    "S6": (),  # specialized advice
    "S7": (),  # privacy
    "S8": (),  # intellectual property
    "S9": ("violence", "illicit/violent"),  # indiscriminate weapons
    "S10": ("hate",),  # hate
    "S11": ("self-harm",),  # suicide and self-harm
    "S12": ("sexual",),  # sexual content
    "S13": (),  # elections
    "S14": ("illicit",),  # code interpreter abuse
}
CODE = re.compile(r"S\d{1,2}")


def verdict(response: Any) -> tuple[bool, list[str]]:
    """(flagged, hazard codes) from Llama Guard's answer: `{"safe", "categories"}` or its text form."""
    if isinstance(response, dict):
        codes = [str(c).strip().upper() for c in response.get("categories") or []]
        return response.get("safe") is False or bool(codes), [c for c in codes if CODE.fullmatch(c)]
    text = str(response or "").strip()
    first, _, rest = text.partition("\n")
    flagged = first.strip().lower().startswith("unsafe")
    return flagged, CODE.findall(rest.upper()) if flagged else []


def result(flagged: bool, codes: list[str]) -> dict[str, Any]:
    named = {category for code in codes for category in HAZARDS.get(code, ())}
    return {
        "flagged": flagged,
        "categories": {category: category in named for category in CATEGORIES},
        "category_scores": {category: 1.0 if category in named else 0.0 for category in CATEGORIES},
        "category_applied_input_types": {category: ["text"] if category in named else [] for category in CATEGORIES},
    }
