"""POST /v1/moderations: text, a list of texts, or content parts."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.protocol.common import OpenAIRequest


class ModerationRequest(OpenAIRequest):
    input: str | list[str] | list[dict[str, Any]]
    model: str | None = Field(default=None, min_length=1)
