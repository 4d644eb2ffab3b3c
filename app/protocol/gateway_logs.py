"""PATCH /v1/gateway/logs/{log_id}: feedback on one AI Gateway log entry (relayed to the logs API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GatewayLogFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback: Literal[-1, 0, 1] | None = None
    score: float | None = Field(default=None, ge=0, le=100)
    metadata: dict[str, str | int | float | bool] | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
