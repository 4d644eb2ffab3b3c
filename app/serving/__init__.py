"""One module per resource: validate what the protocol cannot, plan the upstream bodies, run the pipeline, shape
the reply. `Serving` holds one of each, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from app.serving.audio import Audio
from app.serving.chat import ChatCompletions
from app.serving.classify import Classify
from app.serving.completions import Completions
from app.serving.embeddings import Embeddings
from app.serving.gateway_logs import GatewayLogs
from app.serving.images import Images
from app.serving.messages import Messages
from app.serving.models import Models
from app.serving.responses import Responses


@dataclass(frozen=True, slots=True)
class Serving:
    chat: ChatCompletions
    completions: Completions
    embeddings: Embeddings
    models: Models
    gateway_logs: GatewayLogs
    messages: Messages
    responses: Responses
    images: Images
    audio: Audio
    classify: Classify


__all__ = [
    "Audio",
    "ChatCompletions",
    "Classify",
    "Completions",
    "Embeddings",
    "GatewayLogs",
    "Images",
    "Messages",
    "Models",
    "Responses",
    "Serving",
]
