"""The models the emulator answers for, by task (ids from the Workers AI catalogue)."""

from __future__ import annotations

from app.catalog import EMBEDDING_MODELS

TEXT_GENERATION_MODELS = frozenset(
    {
        "@cf/meta/llama-3.1-8b-instruct",
        "@cf/meta/llama-3.1-8b-instruct-fast",
        "@cf/meta/llama-3.1-8b-instruct-fp8",
        "@cf/meta/llama-3.2-1b-instruct",
        "@cf/meta/llama-3.2-3b-instruct",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "@cf/meta/llama-4-scout-17b-16e-instruct",
        "@cf/mistralai/mistral-small-3.1-24b-instruct",
        "@cf/google/gemma-3-12b-it",
        "@cf/qwen/qwq-32b",
        "@cf/qwen/qwen2.5-coder-32b-instruct",
        "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
        "@cf/openai/gpt-oss-120b",
        "@cf/openai/gpt-oss-20b",
        "@hf/nousresearch/hermes-2-pro-mistral-7b",
    }
)
EMBEDDING_DIMENSIONS = {model_id: model.dimensions for model_id, model in EMBEDDING_MODELS.items()}
UPSTREAM_DEFAULT_MAX_TOKENS = 256  # what Workers AI stops at when a request names no max_tokens
EMBEDDING_MAX_ITEMS = 100
