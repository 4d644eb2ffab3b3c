"""Images given by http(s) URL are fetched by the proxy and sent inline: Workers AI takes only data: URLs."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest, ContentPart, ImageURL
from app.upstream.fetch import FetchedImage, FetchRefused

Fetch = Callable[[str], Awaitable[FetchedImage]]


def has_remote_images(request: ChatCompletionRequest) -> bool:
    return any(
        part.image_url is not None and part.image_url.url.startswith(("http://", "https://"))
        for message in request.messages
        if isinstance(message.content, list)
        for part in message.content
    )


async def inline_remote_images(request: ChatCompletionRequest, fetch: Fetch) -> ChatCompletionRequest:
    async def inline(part: ContentPart, where: str) -> ContentPart:
        assert part.image_url is not None
        try:
            image = await fetch(part.image_url.url)
        except FetchRefused as exc:
            raise InvalidRequest(f"The image at {where} was not fetched: {exc}.", param=where) from None
        data_url = f"data:{image.content_type};base64,{base64.b64encode(image.data).decode('ascii')}"
        return part.model_copy(update={"image_url": ImageURL(url=data_url, detail=part.image_url.detail)})

    messages = list(request.messages)
    for m, message in enumerate(messages):
        if not isinstance(message.content, list):
            continue
        jobs = {
            p: inline(part, f"messages[{m}].content[{p}].image_url")
            for p, part in enumerate(message.content)
            if part.image_url is not None and part.image_url.url.startswith(("http://", "https://"))
        }
        if jobs:
            fetched = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
            parts = [fetched.get(p, part) for p, part in enumerate(message.content)]
            messages[m] = message.model_copy(update={"content": parts})
    return request.model_copy(update={"messages": messages})
