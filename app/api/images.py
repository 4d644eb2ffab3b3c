"""POST /v1/images/generations, POST /v1/images/edits (multipart, as the SDK sends it) and
GET /v1/images/files/{id} (the images of `response_format: url`: no key needed, the id is the secret)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.forms import integer, read_form, text, uploads
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import app_state, identified
from app.errors import InvalidRequest, NotFound
from app.media.images import SourceImage
from app.protocol.images import ImageGenerationRequest
from app.serving.images import ImageEdit


async def create_image(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, ImageGenerationRequest)
    return reply_response(await serving.images.generate(body, exchange, _base_url(request)), request)


async def edit_image(request: Request) -> Response:
    serving, exchange = await identified(request)
    state = app_state(request)
    async with read_form(request, state.max_body_bytes) as form:
        edit = await _edit(form, serving.images.max_image_bytes)
    return reply_response(await serving.images.edit(edit, exchange, _base_url(request)), request)


async def _edit(form: FormData, limit: int) -> ImageEdit:
    prompt = text(form, "prompt")
    if not prompt:
        raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    images = [SourceImage(u.data, u.content_type) for u in await uploads(form, "image", "image[]", limit=limit)]
    masks = await uploads(form, "mask", limit=limit)
    return ImageEdit(
        prompt,
        images,
        SourceImage(masks[0].data, masks[0].content_type) if masks else None,
        text(form, "model"),
        integer(form, "n"),
        text(form, "size"),
        text(form, "quality"),
        text(form, "response_format"),
        integer(form, "seed"),
    )


async def image_file(request: Request) -> Response:
    found = await app_state(request).serving.images.files.read(request.path_params["file_id"])
    if found is None:
        raise NotFound("No such image: it may have expired (PROXY_IMAGE_URL_TTL).", code="image_not_found")
    data, content_type = found
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


OPERATIONS = (
    Operation(
        "POST",
        "/v1/images/generations",
        create_image,
        summary="Create an image",
        tag="images",
        resource="images",
        body=ImageGenerationRequest,
        also_at=("/images/generations",),
    ),
    Operation(
        "POST",
        "/v1/images/edits",
        edit_image,
        summary="Edit an image",
        tag="images",
        resource="images",
        also_at=("/images/edits",),
    ),
    Operation(
        "GET",
        "/v1/images/files/{file_id}",
        image_file,
        summary="An image made with response_format url",
        tag="images",
        resource="image_files",
        observed=False,
    ),
)
