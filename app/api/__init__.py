"""HTTP surface: one thin router per resource. Add an endpoint here and in `BODY_MODELS` if it takes JSON."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api import chat, embeddings, health
from app.protocol.chat import ChatCompletionRequest
from app.protocol.embeddings import EmbeddingRequest

ROUTERS: tuple[APIRouter, ...] = (chat.router, embeddings.router, health.router)
BODY_MODELS: tuple[type[BaseModel], ...] = (ChatCompletionRequest, EmbeddingRequest)
