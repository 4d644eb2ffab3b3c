"""The models the emulator answers for, by task (ids from the Workers AI catalogue)."""

from __future__ import annotations

from typing import Any

from app.models.embedding import EMBEDDING_MODELS
from app.models.known import CHAT, CURRENT, EMBEDDINGS

# Today's chat models: a retired id gets Workers AI's own answer for a model that is gone (5007)
TEXT_GENERATION_MODELS = frozenset(model_id for model_id, known in CURRENT.items() if known.task == CHAT)
# Images, speech, transcription, rerankers: model id -> task (app/emulator/media_routes.py answers them)
MEDIA_MODELS = {model_id: known.task for model_id, known in CURRENT.items() if known.task not in (CHAT, EMBEDDINGS)}
EMBEDDING_DIMENSIONS = {model_id: model.dimensions for model_id, model in EMBEDDING_MODELS.items()}
UPSTREAM_DEFAULT_MAX_TOKENS = 256  # what Workers AI stops at when a request names no max_tokens
EMBEDDING_MAX_ITEMS = 100


def catalogue_properties(model_id: str) -> list[dict[str, Any]]:
    """What `/ai/models/search` says of a model (wire spec 9.13): booleans as the strings "true"/"false"."""
    known = CURRENT.get(model_id)
    if known is None:
        return []
    properties: list[dict[str, Any]] = []
    if known.context_window is not None:
        properties.append({"property_id": "context_window", "value": str(known.context_window)})
    if known.task == CHAT:
        for property_id, value in (
            ("function_calling", known.tools),
            ("vision", known.vision),
            ("reasoning", known.reasoning),
            ("require_workers_paid", known.paid),
        ):
            properties.append({"property_id": property_id, "value": "true" if value else "false"})
    return properties
