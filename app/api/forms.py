"""multipart/form-data requests (image edits, audio uploads) as the OpenAI SDKs send them: read whole within a size
limit (413 beyond it), then parsed; a body that is not a form is a 400 naming what was expected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.types import Message

from app.api.body import read_body
from app.api.state import EXCHANGE_KEY
from app.errors import InvalidRequest, PayloadTooLarge

MAX_FILES = 16
MAX_FIELDS = 64


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@asynccontextmanager
async def read_form(request: Request, limit: int) -> AsyncIterator[FormData]:
    """The form, its uploaded files closed when the block ends."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "This endpoint takes multipart/form-data (a file upload), as the OpenAI SDKs send it.",
            code="invalid_content_type",
        )
    raw = await read_body(request, limit)
    request.scope[EXCHANGE_KEY].request_bytes = len(raw)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(request.scope, receive).form(max_files=MAX_FILES, max_fields=MAX_FIELDS)
    except Exception as exc:  # python-multipart's and Starlette's parse errors: the client's body
        raise InvalidRequest(f"The multipart body could not be read: {exc}.", code="invalid_multipart") from None
    try:
        yield form
    finally:
        await form.close()


async def uploads(form: FormData, *names: str, limit: int) -> list[Upload]:
    """Every file sent under any of `names` (`image` and `image[]` are the same field to the SDKs)."""
    found: list[Upload] = []
    for name in names:
        for value in form.getlist(name):
            if not isinstance(value, UploadFile):
                raise InvalidRequest(f"'{name}' must be a file.", param=name.removesuffix("[]"))
            data = await value.read()
            if len(data) > limit:
                raise PayloadTooLarge(f"The file in '{name}' is larger than {limit} bytes.")
            found.append(Upload(value.filename or name, value.content_type or "application/octet-stream", data))
    return found


def text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a text field, not a file.", param=name)
    return value


def integer(form: FormData, name: str) -> int | None:
    value = text(form, name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"Invalid value for '{name}': {value!r} is not an integer.", param=name) from None
