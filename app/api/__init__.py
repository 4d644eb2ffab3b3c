"""HTTP surface: one module per resource, each listing its `ENDPOINTS`; add a resource's list here."""

from __future__ import annotations

from app.api import chat, completions, embeddings, gateway_logs, health, models
from app.api.endpoint import Endpoint

ENDPOINTS: tuple[Endpoint, ...] = (
    *chat.ENDPOINTS,
    *completions.ENDPOINTS,
    *embeddings.ENDPOINTS,
    *gateway_logs.ENDPOINTS,
    *models.ENDPOINTS,
    *health.ENDPOINTS,
)
