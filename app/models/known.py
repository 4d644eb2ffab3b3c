"""What the proxy knows of Workers AI's models without the account's catalogue: today's chat and embedding models
with what they can do, and the models retired on 2026-05-30 with their replacements (wire spec 9.1, 9.2, 9.13).

The account's catalogue (`app.models.catalogue`) wins wherever it says something; this table serves when it cannot
be read (a token that may not list models, pass-through mode), feeds the emulator's catalogue, and names the
successor of a model that is gone. Request and reply quirks of each model are `app.models.capabilities`.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models.media import (
    ASR,
    ASR_MODELS,
    CLASSIFICATION,
    IMAGE_MODELS,
    IMAGES,
    MODERATION_MODELS,
    RERANKERS,
    SPEECH_MODELS,
    TTS,
)

CHAT = "Text Generation"
EMBEDDINGS = "Text Embeddings"


@dataclass(frozen=True, slots=True)
class KnownModel:
    task: str
    context_window: int | None = None
    tools: bool = False
    reasoning: bool = False
    vision: bool = False
    paid: bool = False  # `require_workers_paid`: a 403 / 5035 on the Free plan


CURRENT: dict[str, KnownModel] = {
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": KnownModel(CHAT, 24_000, tools=True),
    "@cf/meta/llama-3.1-8b-instruct-fast": KnownModel(CHAT, 128_000, tools=True),
    "@cf/meta/llama-3.1-8b-instruct-fp8": KnownModel(CHAT, 32_000, tools=True),
    "@cf/meta/llama-3.2-1b-instruct": KnownModel(CHAT, 60_000),
    "@cf/meta/llama-3.2-3b-instruct": KnownModel(CHAT, 128_000),
    "@cf/meta/llama-3.2-11b-vision-instruct": KnownModel(CHAT, 128_000, vision=True),
    "@cf/meta/llama-4-scout-17b-16e-instruct": KnownModel(CHAT, 131_000, tools=True, vision=True),
    "@cf/mistralai/mistral-small-3.1-24b-instruct": KnownModel(CHAT, 128_000, tools=True, vision=True),
    "@cf/google/gemma-4-26b-a4b-it": KnownModel(CHAT, 256_000, tools=True, reasoning=True, vision=True),
    "@cf/openai/gpt-oss-120b": KnownModel(CHAT, 128_000, tools=True, reasoning=True),
    "@cf/openai/gpt-oss-20b": KnownModel(CHAT, 128_000, tools=True, reasoning=True),
    "@cf/zai-org/glm-4.7-flash": KnownModel(CHAT, 131_072, tools=True, reasoning=True),
    "@cf/zai-org/glm-5.2": KnownModel(CHAT, 131_072, tools=True, reasoning=True, paid=True),
    "@cf/zai-org/glm-5.3": KnownModel(CHAT, 1_310_720, tools=True, reasoning=True, paid=True),
    "@cf/moonshotai/kimi-k2.6": KnownModel(CHAT, 262_144, tools=True, reasoning=True, vision=True, paid=True),
    "@cf/moonshotai/kimi-k2.7-code": KnownModel(CHAT, 262_144, tools=True, reasoning=True, paid=True),
    "@cf/deepseek-ai/deepseek-v4-pro-0813": KnownModel(CHAT, 1_048_576, tools=True, reasoning=True, paid=True),
    "@cf/deepseek-ai/deepseek-v4-flash-0731": KnownModel(CHAT, 1_048_576, tools=True, reasoning=True, paid=True),
    "@cf/qwen/qwen3-30b-a3b-fp8": KnownModel(CHAT, 32_768, tools=True, reasoning=True),
    "@cf/qwen/qwen3.8-27b": KnownModel(CHAT, 262_144, tools=True, reasoning=True, vision=True),
    "@cf/qwen/qwq-32b": KnownModel(CHAT, 24_000, reasoning=True),
    "@cf/qwen/qwen2.5-coder-32b-instruct": KnownModel(CHAT, 32_768),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": KnownModel(CHAT, 80_000, reasoning=True),
    "@cf/ibm-granite/granite-4.0-h-micro": KnownModel(CHAT, 131_000, tools=True),
    "@cf/baai/bge-small-en-v1.5": KnownModel(EMBEDDINGS, 512),
    "@cf/baai/bge-base-en-v1.5": KnownModel(EMBEDDINGS, 512),
    "@cf/baai/bge-large-en-v1.5": KnownModel(EMBEDDINGS, 512),
    "@cf/baai/bge-m3": KnownModel(EMBEDDINGS, 8192),
    "@cf/google/embeddinggemma-300m": KnownModel(EMBEDDINGS, 2048),
    "@cf/qwen/qwen3-embedding-0.6b": KnownModel(EMBEDDINGS, 32_768),
}

# Images, speech, transcription, reranking, safety (app.models.media says how each is spoken to)
CURRENT.update({model_id: KnownModel(IMAGES) for model_id in IMAGE_MODELS})
CURRENT.update({model_id: KnownModel(ASR) for model_id in ASR_MODELS})
CURRENT.update({model_id: KnownModel(TTS) for model_id in SPEECH_MODELS})
CURRENT.update({model_id: KnownModel(CLASSIFICATION, 512) for model_id in RERANKERS})
CURRENT.update({model_id: KnownModel(CHAT, 131_072) for model_id in MODERATION_MODELS})  # a chat model that judges

_FAST_TOOLS = "@cf/zai-org/glm-4.7-flash"
_VISION = "@cf/google/gemma-4-26b-a4b-it"

# Retired on 2026-05-30 (wire spec 9.1) -> the model to use instead: the same family's `-fast` variant where
# there is one, else Cloudflare's named replacements (fast tool calling; vision and tools).
RETIRED: dict[str, str] = {
    "@cf/meta/llama-3.1-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3.1-8b-instruct-awq": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3-8b-instruct-awq": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@hf/meta-llama/meta-llama-3-8b-instruct": "@cf/meta/llama-3.1-8b-instruct-fast",
    "@cf/meta/llama-3.1-70b-instruct": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "@cf/meta/llama-2-7b-chat-int8": _FAST_TOOLS,
    "@cf/meta/llama-2-7b-chat-fp16": _FAST_TOOLS,
    "@cf/mistral/mistral-7b-instruct-v0.1": _FAST_TOOLS,
    "@hf/mistral/mistral-7b-instruct-v0.2": _FAST_TOOLS,
    "@hf/google/gemma-7b-it": _FAST_TOOLS,
    "@hf/nousresearch/hermes-2-pro-mistral-7b": _FAST_TOOLS,
    "@cf/microsoft/phi-2": _FAST_TOOLS,
    "@cf/defog/sqlcoder-7b-2": _FAST_TOOLS,
    "@cf/facebook/bart-large-cnn": _FAST_TOOLS,
    "@cf/google/gemma-3-12b-it": _VISION,
    "@cf/unum/uform-gen2-qwen-500m": _VISION,
    "@cf/moonshotai/kimi-k2.5": "@cf/moonshotai/kimi-k2.6",  # Cloudflare aliases it there itself
}
RETIRED_ON = "2026-05-30"


def known(model_id: str) -> KnownModel | None:
    return CURRENT.get(model_id)


def successor(model_id: str) -> str | None:
    return RETIRED.get(model_id)
