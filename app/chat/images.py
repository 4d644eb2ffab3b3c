"""Images given by http(s) URL are fetched by the proxy and sent inline: Workers AI takes only data: URLs."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest, ContentPart, ImageURL
from app.upstream.fetch import BudgetExceeded, FetchedImage, FetchRefused, ImageBudget

Fetch = Callable[[str, ImageBudget], Awaitable[FetchedImage]]
REMOTE = ("http://", "https://")


def has_remote_images(request: ChatCompletionRequest) -> bool:
    return any(True for _ in _remote_parts(request))


async def inline_remote_images(
    request: ChatCompletionRequest, fetch: Fetch, max_total_bytes: int, max_image_bytes: int
) -> ChatCompletionRequest:
    """Every remote image fetched at once, from one byte budget; the first refusal cancels the others."""
    budget = ImageBudget(max_total_bytes)
    where_of = {(m, p): f"messages[{m}].content[{p}].image_url" for m, p, _ in _remote_parts(request)}

    async def inline(m: int, p: int, part: ContentPart) -> ContentPart:
        assert part.image_url is not None
        try:
            image = await fetch(part.image_url.url, budget)
        except FetchRefused:
            # one message for every refusal: the answer must not tell what the proxy can reach
            raise InvalidRequest(
                f"The image at {where_of[m, p]} could not be fetched. Image URLs must be public http(s) URLs of "
                f"PNG, JPEG, WebP or GIF images of at most {max_image_bytes} bytes; or send a data: URL.",
                param=where_of[m, p],
                code="invalid_image_url",
            ) from None
        except BudgetExceeded:
            raise InvalidRequest(
                f"The images of this request add up to more than {max_total_bytes} bytes "
                f"(PROXY_IMAGE_MAX_TOTAL_BYTES); the limit was passed at {where_of[m, p]}.",
                param=where_of[m, p],
                code="images_too_large",
            ) from None
        data_url = f"data:{image.content_type};base64,{base64.b64encode(image.data).decode('ascii')}"
        return part.model_copy(update={"image_url": ImageURL(url=data_url, detail=part.image_url.detail)})

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {(m, p): group.create_task(inline(m, p, part)) for m, p, part in _remote_parts(request)}
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    messages = list(request.messages)
    for m, message in enumerate(messages):
        if isinstance(message.content, list) and any((m, p) in tasks for p in range(len(message.content))):
            parts = [tasks[m, p].result() if (m, p) in tasks else part for p, part in enumerate(message.content)]
            messages[m] = message.model_copy(update={"content": parts})
    return request.model_copy(update={"messages": messages})


def _remote_parts(request: ChatCompletionRequest) -> list[tuple[int, int, ContentPart]]:
    return [
        (m, p, part)
        for m, message in enumerate(request.messages)
        if isinstance(message.content, list)
        for p, part in enumerate(message.content)
        if part.image_url is not None and part.image_url.url.startswith(REMOTE)
    ]
