"""POST /v1/audio/speech (JSON) and the fields of /v1/audio/transcriptions and /translations (multipart)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.protocol.common import OpenAIRequest

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class SpeechRequest(OpenAIRequest):
    model: str = Field(min_length=1)
    input: str = Field(min_length=1, max_length=4096)
    voice: str = Field(min_length=1)
    response_format: SpeechFormat | None = None
    speed: float | None = Field(default=None, ge=0.25, le=4.0)
    instructions: str | None = None
