"""Workers AI's published requests per minute, per model (wire spec 3.3 and 9.10): what the proxy paces its own
traffic under. By task: text generation 300, embeddings 3000; the exceptions Cloudflare lists; frontier models 20
per model per account (50 with AI Gateway credits, not assumed)."""

from __future__ import annotations

from app.models.embedding import embedding_model
from app.models.known import EMBEDDINGS, known

TASK_RPM = {EMBEDDINGS: 3000}
TEXT_GENERATION_RPM = 300
MODEL_RPM = {
    "@cf/baai/bge-large-en-v1.5": 1500,
    "@cf/mistral/mistral-7b-instruct-v0.1-awq": 400,
    "@cf/microsoft/phi-2": 720,
    "@cf/qwen/qwen1.5-0.5b-chat": 1500,
    "@cf/qwen/qwen1.5-1.8b-chat": 720,
    "@cf/qwen/qwen1.5-14b-chat-awq": 150,
    "@cf/tinyllama/tinyllama-1.1b-chat-v1.0": 720,
    # frontier models on standard Workers AI billing
    "@cf/moonshotai/kimi-k2.6": 20,
    "@cf/moonshotai/kimi-k2.7-code": 20,
    "@cf/zai-org/glm-5.2": 20,
}


def published_rpm(model_id: str) -> int:
    if model_id in MODEL_RPM:
        return MODEL_RPM[model_id]
    model = known(model_id)
    task = model.task if model is not None else (EMBEDDINGS if embedding_model(model_id) else None)
    return TASK_RPM.get(task or "", TEXT_GENERATION_RPM)
