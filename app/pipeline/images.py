"""Images given by http(s) URL are fetched by the proxy and sent inline: Workers AI takes only data: URLs. The
fetching (I/O) is here; which parts are remote, and how fetched bytes replace them, is chat semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.chat.images import remote_parts, where, with_images
from app.errors import InvalidRequest
from app.protocol.chat import ChatCompletionRequest, ContentPart
from app.upstream.fetch import BudgetExceeded, FetchedImage, FetchRefused, ImageBudget

Fetch = Callable[[str, ImageBudget], Awaitable[FetchedImage]]


async def inline_remote_images(
    request: ChatCompletionRequest, fetch: Fetch, max_total_bytes: int, max_image_bytes: int
) -> ChatCompletionRequest:
    """Every remote image fetched at once, from one byte budget; the first refusal cancels the others."""
    budget = ImageBudget(max_total_bytes)

    async def fetched(m: int, p: int, part: ContentPart) -> tuple[str, bytes]:
        assert part.image_url is not None
        try:
            image = await fetch(part.image_url.url, budget)
        except FetchRefused:
            # one message for every refusal: the answer must not tell what the proxy can reach
            raise InvalidRequest(
                f"The image at {where(m, p)} could not be fetched. Image URLs must be public http(s) URLs of "
                f"PNG, JPEG, WebP or GIF images of at most {max_image_bytes} bytes; or send a data: URL.",
                param=where(m, p),
                code="invalid_image_url",
            ) from None
        except BudgetExceeded:
            raise InvalidRequest(
                f"The images of this request add up to more than {max_total_bytes} bytes "
                f"(PROXY_IMAGE_MAX_TOTAL_BYTES); the limit was passed at {where(m, p)}.",
                param=where(m, p),
                code="images_too_large",
            ) from None
        return image.content_type, image.data

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {(m, p): group.create_task(fetched(m, p, part)) for m, p, part in remote_parts(request)}
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return with_images(request, {position: task.result() for position, task in tasks.items()})
