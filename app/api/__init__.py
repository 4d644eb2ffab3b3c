"""HTTP surface: one module per resource, each listing its `OPERATIONS`; add a resource's list here."""

from __future__ import annotations

from app.api import (
    admin,
    audio,
    chat,
    classify,
    completions,
    embeddings,
    gateway_logs,
    images,
    messages,
    models,
    probes,
    responses,
)
from app.api.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    *chat.OPERATIONS,
    *completions.OPERATIONS,
    *messages.OPERATIONS,
    *responses.OPERATIONS,
    *embeddings.OPERATIONS,
    *images.OPERATIONS,
    *audio.OPERATIONS,
    *classify.OPERATIONS,
    *gateway_logs.OPERATIONS,
    *models.OPERATIONS,
    *probes.OPERATIONS,
    *admin.OPERATIONS,
)
