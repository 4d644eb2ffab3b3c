"""Which images of a chat request are given by http(s) URL, and the request with fetched bytes in their place
(as data: URLs, the only form Workers AI takes). The fetching itself is the pipeline's (`pipeline.images`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from app.protocol.chat import ChatCompletionRequest, ContentPart, ImageURL

REMOTE = ("http://", "https://")
Position = tuple[int, int]  # (message, part)


def has_remote_images(request: ChatCompletionRequest) -> bool:
    return any(True for _ in remote_parts(request))


def remote_parts(request: ChatCompletionRequest) -> list[tuple[int, int, ContentPart]]:
    return [
        (m, p, part)
        for m, message in enumerate(request.messages)
        if isinstance(message.content, list)
        for p, part in enumerate(message.content)
        if part.image_url is not None and part.image_url.url.startswith(REMOTE)
    ]


def where(m: int, p: int) -> str:
    return f"messages[{m}].content[{p}].image_url"


def with_images(request: ChatCompletionRequest, images: Mapping[Position, tuple[str, bytes]]) -> ChatCompletionRequest:
    """`images`: (content type, bytes) per remote part."""
    messages = list(request.messages)
    for m, message in enumerate(messages):
        if not isinstance(message.content, list) or not any((m, p) in images for p in range(len(message.content))):
            continue
        parts = list(message.content)
        for p, part in enumerate(parts):
            if (m, p) in images and part.image_url is not None:
                content_type, data = images[m, p]
                url = f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
                parts[p] = part.model_copy(update={"image_url": ImageURL(url=url, detail=part.image_url.detail)})
        messages[m] = message.model_copy(update={"content": parts})
    return request.model_copy(update={"messages": messages})
