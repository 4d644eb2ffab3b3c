"""HTTP surface: one module per resource, each listing its `OPERATIONS`; add a resource's list here."""

from __future__ import annotations

from app.api import admin, chat, completions, embeddings, gateway_logs, messages, models, probes, responses
from app.api.operation import Operation

OPERATIONS: tuple[Operation, ...] = (
    *chat.OPERATIONS,
    *completions.OPERATIONS,
    *messages.OPERATIONS,
    *responses.OPERATIONS,
    *embeddings.OPERATIONS,
    *gateway_logs.OPERATIONS,
    *models.OPERATIONS,
    *probes.OPERATIONS,
    *admin.OPERATIONS,
)
