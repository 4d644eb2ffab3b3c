"""Checks made before any upstream call, and the output plan of a chat request.

A parameter Workers AI cannot honour is a 400 naming it, never a silent drop that changes the answer.
"""

from __future__ import annotations

from app.chat.plan import OutputPlan
from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest, ContentPart, NamedToolChoice
from app.protocol.completions import CompletionRequest
from app.routing.route import Route

MAX_STOP_SEQUENCES = 4  # as OpenAI
MAX_TEXT_CHARS = 8 * 1024 * 1024  # all the text of a request's messages; images are bounded by the body limit
IMAGE_URL_SCHEMES = ("data:", "http://", "https://")


def check_chat_request(request: ChatCompletionRequest, route: Route, max_n: int, max_images: int) -> None:
    _check_unsupported(request.logprobs, request.top_logprobs, request.logit_bias)
    check_n(request.n, max_n)
    stop_sequences(request.stop)
    _check_tools(request, route)
    text = images = 0
    for m, message in enumerate(request.messages):
        if isinstance(message.content, str):
            text += len(message.content)
        elif isinstance(message.content, list):
            for p, part in enumerate(message.content):
                _check_part(part, f"messages[{m}].content[{p}]", route)
                text += len(part.text or "")
                images += part.type == "image_url"
                if images > max_images:
                    raise InvalidRequest(
                        f"A request may carry at most {max_images} images (PROXY_MAX_IMAGES).",
                        param=f"messages[{m}].content[{p}]",
                        code="too_many_images",
                    )
    if text > MAX_TEXT_CHARS:
        raise InvalidRequest(f"The messages hold more than {MAX_TEXT_CHARS} characters of text.", param="messages")


def _check_unsupported(logprobs: object, top_logprobs: int | None, logit_bias: dict[str, float] | None) -> None:
    if logprobs:
        raise InvalidRequest("Workers AI models do not return log probabilities.", param="logprobs")
    if top_logprobs:
        raise InvalidRequest("Workers AI models do not return log probabilities.", param="top_logprobs")
    if logit_bias:
        raise InvalidRequest("Workers AI models do not support logit_bias.", param="logit_bias")


def check_n(n: int | None, max_n: int) -> None:
    if n is not None and n > max_n:
        raise InvalidRequest(f"n must be at most {max_n} on this proxy (PROXY_MAX_N).", param="n")


def stop_sequences(stop: str | list[str] | None) -> tuple[str, ...]:
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    if len(sequences) > MAX_STOP_SEQUENCES:
        raise InvalidRequest(f"stop takes at most {MAX_STOP_SEQUENCES} sequences.", param="stop")
    return tuple(s for s in sequences if s)


def _check_tools(request: ChatCompletionRequest, route: Route) -> None:
    names = [tool.function.name for tool in request.tools or []]
    if names and route.capabilities.tools == "none":
        raise InvalidRequest(f"The model {route.requested} does not support tools (function calling).", param="tools")
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
        raise InvalidRequest(f"tool_choice names '{choice.function.name}', which is not in tools.", param="tool_choice")
    if choice == "required" and not names:
        raise InvalidRequest("tool_choice 'required' needs tools.", param="tool_choice")


def _check_part(part: ContentPart, where: str, route: Route) -> None:
    if part.type == "text":
        if part.text is None:
            raise InvalidRequest("A text part needs 'text'.", param=f"{where}.text")
        return
    if part.type != "image_url":
        raise InvalidRequest(
            f"Content parts of type '{part.type}' are not supported; send text or image_url parts.", param=where
        )
    if route.capabilities.vision is False:
        raise InvalidRequest(f"The model {route.requested} does not accept images.", param=where)
    if part.image_url is None or not part.image_url.url.startswith(IMAGE_URL_SCHEMES):
        raise InvalidRequest("image_url.url must be a data: URL or an http(s) URL.", param=f"{where}.image_url")


def output_plan(request: ChatCompletionRequest, route: Route, max_tokens: int) -> OutputPlan:
    stop = stop_sequences(request.stop)
    return OutputPlan(
        max_tokens=max_tokens,
        think=route.capabilities.think,
        tool_names=frozenset(tool.function.name for tool in request.tools or []),
        # OpenAI-compatible routes and models with native options apply `stop` themselves
        stop=() if route.capabilities.chat_options or route.dialect != "native" else stop,
    )


def check_completion_request(request: CompletionRequest, max_n: int) -> list[str]:
    """The prompts of a legacy completion request, after refusing what Workers AI cannot do."""
    _check_unsupported(request.logprobs is not None, None, request.logit_bias)
    check_n(request.n, max_n)
    stop_sequences(request.stop)
    if request.suffix:
        raise InvalidRequest("Workers AI models do not complete text around a suffix.", param="suffix")
    if request.best_of is not None and request.best_of > (request.n or 1):
        raise InvalidRequest("best_of is not supported; use n to get several completions.", param="best_of")
    prompts = [request.prompt] if isinstance(request.prompt, str) else list(request.prompt)
    if not prompts or not all(isinstance(p, str) and p for p in prompts):
        raise InvalidRequest(
            "prompt must be a non-empty string or a list of them; token arrays are not supported.", param="prompt"
        )
    if len(prompts) * (request.n or 1) > max_n:
        raise InvalidRequest(f"prompts x n must be at most {max_n} on this proxy (PROXY_MAX_N).", param="prompt")
    return prompts  # type: ignore[return-value]  # every item checked to be a str above
