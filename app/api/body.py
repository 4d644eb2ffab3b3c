"""JSON request bodies: orjson decode, pydantic validation, and OpenAI-style 400s naming the parameter."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import ClientDisconnect, Request

from app.api.state import EXCHANGE_KEY, app_state
from app.errors import ClientClosedRequest, InvalidRequest, PayloadTooLarge

Model = TypeVar("Model", bound=BaseModel)
BODY_KEY = "workers_ai_proxy.body"  # the raw body, for a repeat of a cache hit to be recognized (api.repeat_hits)


async def parse_body(request: Request, model: type[Model]) -> Model:
    state = app_state(request)
    raw = await read_body(request, state.max_body_bytes)
    request.scope[BODY_KEY] = raw
    request.scope[EXCHANGE_KEY].request_bytes = len(raw)
    if state.log_bodies:
        request.scope[EXCHANGE_KEY].bodies["request"] = raw.decode("utf-8", "replace")
    try:
        data = orjson.loads(raw)  # also refuses invalid UTF-8 and nesting deeper than 1024 levels
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. The body must be a JSON object in UTF-8.",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    request.scope[EXCHANGE_KEY].json_body = data  # the reply cache keys on it (never changed)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it is known to be larger than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest("The client disconnected while sending the request body.") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes (PROXY_MAX_BODY_BYTES).")


def validation_error(exc: ValidationError) -> InvalidRequest:
    first = exc.errors(include_url=False)[0]
    param = param_name(first["loc"])
    return InvalidRequest(_message(first, param), param=param or None, code=_code(first))


def param_name(loc: tuple[int | str, ...]) -> str:
    """('messages', 0, 'content') -> 'messages[0].content'; union branch names are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_branch_label(part):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _is_branch_label(part: str) -> bool:
    # pydantic names union members in locations, e.g. 'list[ContentPart]' or 'str'
    return "[" in part or part in {"str", "int", "float", "bool", "list", "dict", "function-after"}


def _message(error: ErrorDetails, param: str) -> str:
    if error["type"] == "missing":
        return f"Missing required parameter: '{param}'."
    detail: Any = error["msg"]
    return f"Invalid value for '{param}': {detail}." if param else f"Invalid request: {detail}."


def _code(error: ErrorDetails) -> str:
    return "missing_required_parameter" if error["type"] == "missing" else "invalid_value"
