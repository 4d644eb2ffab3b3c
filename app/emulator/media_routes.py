"""The emulator's image, speech, transcription, reranking and safety models on `/ai/run/{model}`, each in its family's
wire form (app.models.media): JSON, multipart or raw audio in; JSON, base64 in JSON or bare bytes out."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
from aiohttp import web

from app.emulator import media_files
from app.emulator.replies import envelope_error, success
from app.models.media import ASR_MODELS, IMAGE_MODELS, MODERATION_MODELS, RERANKERS, SPEECH_MODELS, image_model

BAD_INPUT = 5006
UNSAFE_WORDS = {"kill": "S1", "hurt": "S1", "steal": "S2", "bomb": "S9", "hate": "S10", "suicide": "S11"}


def serves(model: str) -> bool:
    return (
        model in IMAGE_MODELS
        or model in ASR_MODELS
        or model in SPEECH_MODELS
        or model in RERANKERS
        or (model in MODERATION_MODELS)
    )


async def answer(request: web.Request, model: str) -> web.Response:
    if model in IMAGE_MODELS:
        return await image(request, model)
    if model in ASR_MODELS:
        return await transcription(request, model)
    body = await _json(request)
    if body is None:
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: invalid JSON body")
    if model in SPEECH_MODELS:
        return speech(model, body)
    if model in RERANKERS:
        return rerank(body)
    return guard(body)


async def _json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def image(request: web.Request, model: str) -> web.Response:
    family = image_model(model)
    if family.wire == "multipart":
        if not request.content_type.startswith("multipart/form-data"):
            return envelope_error(400, BAD_INPUT, "AiError: Bad input: this model takes multipart/form-data")
        fields: dict[str, Any] = _form_fields(await request.read(), request.headers.get("Content-Type", ""))
        prompt = fields.get("prompt", b"").decode("utf-8", "replace")
    else:
        body = await _json(request)
        if body is None:
            return envelope_error(400, BAD_INPUT, "AiError: Bad input: invalid JSON body")
        prompt, fields = body.get("prompt") or "", body
    if not isinstance(prompt, str) or not prompt:
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: required property 'prompt' not met")
    if family.needs_image and not (fields.get("image") or fields.get("image_b64")):
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: required property 'image' not met")
    picture = media_files.png(f"{model}:{prompt}:{fields.get('seed')}")
    if family.wire == "multipart" or model in ("@cf/black-forest-labs/flux-1-schnell", "@cf/leonardo/lucid-origin"):
        return success({"image": base64.b64encode(picture).decode()})
    return web.Response(body=picture, content_type="image/png")


async def transcription(request: web.Request, model: str) -> web.Response:
    family = ASR_MODELS[model]
    task, language = "transcribe", "en"
    if family.wire == "base64":
        body = await _json(request)
        if body is None or not isinstance(body.get("audio"), str):
            return envelope_error(400, BAD_INPUT, "AiError: Bad input: required property 'audio' not met")
        try:
            audio = base64.b64decode(body["audio"], validate=True)
        except ValueError:
            return envelope_error(400, BAD_INPUT, "AiError: Bad input: 'audio' is not base64")
        task, language = body.get("task") or task, body.get("language") or language
    else:
        audio = await request.read()
        if request.content_type == "application/json":  # whisper also takes {"audio": [uint8, ...]}
            body = orjson.loads(audio)
            audio = bytes(body.get("audio") or [])
    if not audio:
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: no audio")
    seconds = media_files.audio_seconds(audio)
    words = ["emulated", "transcript", "of", f"{seconds:.1f}", "seconds", "of", "audio"]
    if task == "translate":
        words = ["translated", *words]
    step = seconds / len(words) if seconds else 0.1
    timed = [{"word": w, "start": round(i * step, 3), "end": round((i + 1) * step, 3)} for i, w in enumerate(words)]
    text = " ".join(words).capitalize() + "."
    if family.wire == "raw":  # Deepgram's own shape
        alternative = {"transcript": text, "confidence": 0.99, "words": [{**w, "confidence": 0.99} for w in timed]}
        return success({"results": {"channels": [{"alternatives": [alternative]}]}})
    vtt = f"WEBVTT\n\n00:00:00.000 --> {_clock(seconds)}\n{text}\n"
    result: dict[str, Any] = {"text": text, "word_count": len(words), "words": timed, "vtt": vtt}
    if family.wire == "base64":
        result["transcription_info"] = {"language": language, "language_probability": 0.99, "duration": seconds}
        result["segments"] = [{"start": 0.0, "end": round(seconds, 3), "text": text, "words": timed}]
        del result["words"]
    return success(result)


def _form_fields(body: bytes, content_type: str) -> dict[str, bytes]:
    """A multipart body's fields by name (read whole: a test's script may have read the body already)."""
    _, _, boundary = content_type.partition("boundary=")
    fields: dict[str, bytes] = {}
    for part in body.split(b"--" + boundary.strip('"').encode())[1:]:
        head, _, value = part.partition(b"\r\n\r\n")
        found = re.search(rb'name="([^"]*)"', head)
        if found is not None:
            fields[found.group(1).decode()] = value.removesuffix(b"\r\n")
    return fields


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int(seconds * 1000) % 1000:03d}"


def speech(model: str, body: dict[str, Any]) -> web.Response:
    family = SPEECH_MODELS[model]
    text = body.get("text") if family.wire == "aura" else body.get("prompt")
    if not isinstance(text, str) or not text:
        field = "text" if family.wire == "aura" else "prompt"
        return envelope_error(400, BAD_INPUT, f"AiError: Bad input: required property '{field}' not met")
    seconds = min(30.0, 0.06 * len(text))
    if family.wire == "melotts":
        return success({"audio": base64.b64encode(media_files.mp3(seconds)).decode()})
    speaker = body.get("speaker", family.voices[0])
    if speaker not in family.voices:
        return envelope_error(400, BAD_INPUT, f"AiError: Bad input: '/speaker' must be one of {list(family.voices)}")
    data, kind = media_files.audio(body.get("encoding") or "mp3", body.get("container") or "none", seconds)
    return web.Response(body=data, content_type=kind)


def rerank(body: dict[str, Any]) -> web.Response:
    query, contexts = body.get("query"), body.get("contexts")
    if not isinstance(query, str) or not isinstance(contexts, list) or not contexts:
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: required properties 'query', 'contexts' not met")
    asked = set(query.lower().split())
    scores = []
    for index, context in enumerate(contexts):
        words = str(context.get("text", "")).lower().split() if isinstance(context, dict) else []
        overlap = len(asked & set(words)) / (len(asked) or 1)
        scores.append({"id": index, "score": round(0.05 + 0.9 * overlap - 0.001 * index, 6)})
    scores.sort(key=lambda item: -item["score"])
    top_k = body.get("top_k")
    return success({"response": scores[:top_k] if isinstance(top_k, int) and top_k > 0 else scores})


def guard(body: dict[str, Any]) -> web.Response:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return envelope_error(400, BAD_INPUT, "AiError: Bad input: required property 'messages' not met")
    said = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict)).lower()
    categories = sorted({code for word, code in UNSAFE_WORDS.items() if word in said}, key=lambda c: int(c[1:]))
    usage = {"prompt_tokens": len(said.split()) + 180, "completion_tokens": 3, "total_tokens": len(said.split()) + 183}
    if (body.get("response_format") or {}).get("type") == "json_object":
        return success({"response": {"safe": not categories, "categories": categories}, "usage": usage})
    text = "unsafe\n" + ",".join(categories) if categories else "safe"
    return success({"response": text, "usage": usage})
