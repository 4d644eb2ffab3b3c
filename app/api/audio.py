"""POST /v1/audio/transcriptions and /v1/audio/translations (a multipart `file` upload, as the SDKs send it) and
POST /v1/audio/speech (JSON in, audio out)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from app.api.body import parse_body
from app.api.forms import read_form, text, uploads
from app.api.operation import Operation
from app.api.respond import reply_response
from app.api.state import app_state, identified
from app.errors import InvalidRequest
from app.protocol.audio import SpeechRequest
from app.serving.audio import TranscriptionAsk


async def create_transcription(request: Request) -> Response:
    return await _transcribe(request, translate=False)


async def create_translation(request: Request) -> Response:
    return await _transcribe(request, translate=True)


async def _transcribe(request: Request, *, translate: bool) -> Response:
    serving, exchange = await identified(request)
    limit = app_state(request).max_audio_bytes
    async with read_form(request, limit + 64 * 1024) as form:  # the file and the form's other fields
        ask = await _ask(form, limit, translate=translate)
    return reply_response(await serving.audio.transcribe(ask, exchange, translate=translate), request)


async def _ask(form: FormData, limit: int, *, translate: bool) -> TranscriptionAsk:
    files = await uploads(form, "file", limit=limit)
    if not files:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
    model = text(form, "model")
    if not model:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    granularities = form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
    return TranscriptionAsk(
        files[0].data,
        files[0].content_type,
        model,
        None if translate else text(form, "language"),  # translations are always into English
        text(form, "prompt"),
        text(form, "response_format"),
        frozenset(str(g) for g in granularities),
        (text(form, "stream") or "").lower() == "true",
    )


async def create_speech(request: Request) -> Response:
    serving, exchange = await identified(request)
    body = await parse_body(request, SpeechRequest)
    return reply_response(await serving.audio.speak(body, exchange), request)


OPERATIONS = (
    Operation(
        "POST",
        "/v1/audio/transcriptions",
        create_transcription,
        summary="Transcribe audio",
        tag="audio",
        resource="transcriptions",
        also_at=("/audio/transcriptions",),
    ),
    Operation(
        "POST",
        "/v1/audio/translations",
        create_translation,
        summary="Translate audio into English",
        tag="audio",
        resource="translations",
        also_at=("/audio/translations",),
    ),
    Operation(
        "POST",
        "/v1/audio/speech",
        create_speech,
        summary="Generate audio from text",
        tag="audio",
        resource="speech",
        body=SpeechRequest,
        also_at=("/audio/speech",),
    ),
)
