"""HTTP surface: one module per resource, each listing its `ENDPOINTS`; add a resource's list here."""

from __future__ import annotations

from app.api import chat, completions, embeddings, health
from app.api.endpoint import Endpoint

ENDPOINTS: tuple[Endpoint, ...] = (*chat.ENDPOINTS, *completions.ENDPOINTS, *embeddings.ENDPOINTS, *health.ENDPOINTS)
