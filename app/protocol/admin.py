"""The admin endpoints' request bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.utc import moment


class ModelLimitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1, max_length=200)  # a glob pattern; each model it matches is counted alone
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


class KeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    models: list[str] = Field(default_factory=list, max_length=100)  # glob patterns; empty: every model
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    daily_neurons: int | None = Field(default=None, ge=1)
    monthly_neurons: int | None = Field(default=None, ge=1)
    daily_tokens: int | None = Field(default=None, ge=1)
    monthly_tokens: int | None = Field(default=None, ge=1)
    model_limits: list[ModelLimitRequest] = Field(default_factory=list, max_length=100)
    expires: float | None = None  # Unix seconds, or an ISO date / date-time (UTC unless it says otherwise)

    @field_validator("expires", mode="before")
    @classmethod
    def _moment(cls, value: object) -> object:
        return moment(value) if isinstance(value, str) else value
