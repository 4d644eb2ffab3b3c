"""What each known Workers AI text model accepts and how it writes its answers.

Unknown models get tolerant defaults (tools and images forwarded in OpenAI form, a leading <think> block
split off): the upstream is the judge for them. Known models are refused up front only for what they
certainly cannot do (tools on a model without function calling, images on a text-only model).
Sources: the Workers AI model pages and function-calling list, and the wire spec.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ToolStyle = Literal["openai", "flat", "none"]
ThinkStyle = Literal["tags", "implicit"]  # implicit: the template opens <think>, the output only closes it
EffortStyle = Literal["none", "openai", "qwen3", "kimi"]
HistoryReasoning = Literal["drop", "reasoning", "reasoning_content"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    tools: ToolStyle = "openai"  # request form of `tools`; "none": the model has no function calling
    chat_options: bool = False  # takes OpenAI Chat Completions options natively (stop, tool_choice, ...)
    vision: bool | None = None  # None: unknown, images are forwarded and the upstream decides
    string_content: bool = False  # message content must be a string
    think: ThinkStyle = "tags"
    reasoning_effort: EffortStyle = "none"
    short_tool_ids: bool = False  # tool_call_id must match [a-zA-Z0-9]{9} (Mistral)
    # Earlier reasoning in the history: dropped, or sent back in the field the model reads (Kimi K2.x, DeepSeek
    # V4 and GLM 5 reject an assistant tool-call turn whose reasoning is missing)
    history_reasoning: HistoryReasoning = "drop"


UNKNOWN = Capabilities()
_LEGACY = Capabilities(tools="none", vision=False, string_content=True)  # 2023-era chat models
_LLAMA3 = Capabilities(tools="flat", vision=False)
_OPENAI_STYLE = Capabilities(tools="openai", chat_options=True, reasoning_effort="openai")
# Thinking is switched by chat_template_kwargs.thinking; reasoning is read back from `reasoning` (wire spec 9.2)
_KIMI = replace(_OPENAI_STYLE, reasoning_effort="kimi", history_reasoning="reasoning")
_KEEPS_REASONING = replace(_OPENAI_STYLE, history_reasoning="reasoning_content")  # DeepSeek V4, GLM 5

KNOWN: dict[str, Capabilities] = {
    # Llama 3.x: flat tools, `{"name", "arguments"}` tool calls in `result.tool_calls` or as JSON text
    "@cf/meta/llama-3.1-8b-instruct": _LLAMA3,
    "@cf/meta/llama-3.1-8b-instruct-fast": _LLAMA3,
    "@cf/meta/llama-3.1-8b-instruct-fp8": _LLAMA3,
    "@cf/meta/llama-3.1-8b-instruct-awq": _LLAMA3,
    "@cf/meta/llama-3.1-70b-instruct": _LLAMA3,
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": _LLAMA3,
    "@cf/meta/llama-3.2-1b-instruct": replace(_LLAMA3, tools="none"),
    "@cf/meta/llama-3.2-3b-instruct": replace(_LLAMA3, tools="none"),
    "@cf/meta/llama-3.2-11b-vision-instruct": Capabilities(tools="none", vision=True),
    "@cf/meta/llama-4-scout-17b-16e-instruct": Capabilities(tools="openai", vision=True),
    "@hf/nousresearch/hermes-2-pro-mistral-7b": Capabilities(tools="flat", vision=False, string_content=True),
    "@cf/mistralai/mistral-small-3.1-24b-instruct": Capabilities(tools="openai", vision=True, short_tool_ids=True),
    "@cf/google/gemma-3-12b-it": Capabilities(tools="none", vision=True),
    "@cf/google/gemma-4-26b-a4b-it": replace(_OPENAI_STYLE, vision=True),
    "@cf/ibm-granite/granite-4.0-h-micro": Capabilities(tools="openai", vision=False),
    "@cf/qwen/qwen3-30b-a3b-fp8": Capabilities(tools="openai", vision=False, reasoning_effort="qwen3"),
    "@cf/qwen/qwq-32b": Capabilities(tools="none", vision=False, think="implicit"),
    "@cf/qwen/qwen2.5-coder-32b-instruct": Capabilities(tools="none", vision=False),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": Capabilities(tools="none", vision=False, think="implicit"),
    "@cf/openai/gpt-oss-120b": replace(_OPENAI_STYLE, vision=False),
    "@cf/openai/gpt-oss-20b": replace(_OPENAI_STYLE, vision=False),
    "@cf/moonshotai/kimi-k2.5": _KIMI,
    "@cf/moonshotai/kimi-k2.6": replace(_KIMI, vision=True),
    "@cf/moonshotai/kimi-k2.7-code": _KIMI,
    "@cf/zai-org/glm-5.2": _KEEPS_REASONING,
    "@cf/zai-org/glm-5.3": _KEEPS_REASONING,
    "@cf/zai-org/glm-5.3-flash": _KEEPS_REASONING,
    "@cf/zai-org/glm-4.7-flash": _OPENAI_STYLE,
    "@cf/deepseek-ai/deepseek-v4-pro-0813": _KEEPS_REASONING,
    "@cf/deepseek-ai/deepseek-v4-flash-0731": _KEEPS_REASONING,
    "@cf/qwen/qwen3.8-27b": Capabilities(tools="openai", vision=True, reasoning_effort="qwen3"),
    # Older chat models: string content, no function calling, no images
    "@cf/meta/llama-3-8b-instruct": _LEGACY,
    "@cf/meta/llama-3-8b-instruct-awq": _LEGACY,
    "@cf/meta/llama-2-7b-chat-fp16": _LEGACY,
    "@cf/meta/llama-2-7b-chat-int8": _LEGACY,
    "@cf/meta-llama/llama-2-7b-chat-hf-lora": _LEGACY,
    "@cf/mistral/mistral-7b-instruct-v0.1": _LEGACY,
    "@cf/mistral/mistral-7b-instruct-v0.2-lora": _LEGACY,
    "@hf/mistral/mistral-7b-instruct-v0.2": _LEGACY,
    "@cf/microsoft/phi-2": _LEGACY,
    "@cf/tinyllama/tinyllama-1.1b-chat-v1.0": _LEGACY,
    "@cf/qwen/qwen1.5-0.5b-chat": _LEGACY,
    "@cf/qwen/qwen1.5-1.8b-chat": _LEGACY,
    "@cf/qwen/qwen1.5-7b-chat-awq": _LEGACY,
    "@cf/qwen/qwen1.5-14b-chat-awq": _LEGACY,
    "@hf/google/gemma-7b-it": _LEGACY,
    "@cf/google/gemma-2b-it-lora": _LEGACY,
    "@cf/google/gemma-7b-it-lora": _LEGACY,
    "@cf/openchat/openchat-3.5-0106": _LEGACY,
    "@cf/tiiuae/falcon-7b-instruct": _LEGACY,
    "@cf/thebloke/discolm-german-7b-v1-awq": _LEGACY,
    "@cf/fblgit/una-cybertron-7b-v2-bf16": _LEGACY,
    "@hf/nexusflow/starling-lm-7b-beta": _LEGACY,
    "@hf/thebloke/neural-chat-7b-v3-1-awq": _LEGACY,
    "@hf/thebloke/openhermes-2.5-mistral-7b-awq": _LEGACY,
    "@hf/thebloke/zephyr-7b-beta-awq": _LEGACY,
    "@hf/thebloke/llama-2-13b-chat-awq": _LEGACY,
    "@hf/thebloke/mistral-7b-instruct-v0.1-awq": _LEGACY,
    "@hf/thebloke/deepseek-coder-6.7b-instruct-awq": _LEGACY,
    "@hf/thebloke/deepseek-coder-6.7b-base-awq": _LEGACY,
    "@cf/deepseek-ai/deepseek-math-7b-instruct": _LEGACY,
    "@cf/defog/sqlcoder-7b-2": _LEGACY,
}


def capabilities_of(model_id: str) -> Capabilities:
    return KNOWN.get(model_id, UNKNOWN)
