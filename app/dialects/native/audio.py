"""Speech models on `/ai/run/{model}` (wire spec 1.2, 1.4, 9.2): transcription bodies per family (the audio as the
body for whisper, base64 in JSON for whisper-large-v3-turbo, the raw audio with its content type and options in the
query for Deepgram's nova-3) and their replies as one Transcript; text to speech for Aura (JSON in, audio bytes out)
and MeloTTS (base64 MP3 in JSON, or bytes)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import orjson

from app.dialects.common import base64_field
from app.errors import UpstreamError
from app.media.transcripts import Timed, Transcript
from app.models.media import AsrModel, SpeechModel

# OpenAI's speech formats as Aura's encoding and container, and the content type of what comes back
AURA_ENCODINGS: dict[str, tuple[str, str | None]] = {
    "mp3": ("mp3", None),
    "wav": ("linear16", "wav"),
    "opus": ("opus", "ogg"),
    "flac": ("flac", None),
    "pcm": ("linear16", "none"),
    "aac": ("aac", None),
}
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
    "aac": "audio/aac",
}


def build_transcription(
    family: AsrModel, audio: bytes, content_type: str, *, task: str, language: str | None, prompt: str | None
) -> tuple[bytes, str, str]:
    """The body, its content type, and a query string."""
    if family.wire == "base64":
        body: dict[str, Any] = {"audio": base64.b64encode(audio).decode(), "task": task}
        if language:
            body["language"] = language
        if prompt:
            body["initial_prompt"] = prompt
        return orjson.dumps(body), "application/json", ""
    if family.wire == "raw":  # Deepgram: the audio itself, options as its own API takes them
        options = {"smart_format": "true", **({"language": language} if language else {})}
        return audio, content_type if content_type.startswith("audio/") else "audio/wav", urlencode(options)
    return audio, "application/octet-stream", ""  # whisper: the file's bytes are the body


def parse_transcription(result: Any) -> Transcript:
    if not isinstance(result, dict):
        raise UpstreamError("Workers AI returned no transcript.")
    channels = (result.get("results") or {}).get("channels") if isinstance(result.get("results"), dict) else None
    if isinstance(channels, list) and channels:  # Deepgram's shape
        alternatives = channels[0].get("alternatives") or [{}]
        best = alternatives[0] if isinstance(alternatives[0], dict) else {}
        words = _timed(best.get("words"), "word")
        return Transcript(str(best.get("transcript") or ""), None, words[-1].end if words else None, [], words)
    text = result.get("text")
    if not isinstance(text, str):
        raise UpstreamError("Workers AI returned no transcript.")
    found_info = result.get("transcription_info")
    info: dict[str, Any] = found_info if isinstance(found_info, dict) else {}
    segments = _timed(result.get("segments"), "text")
    words = _timed(result.get("words"), "word") or [
        w for s in result.get("segments") or [] if isinstance(s, dict) for w in _timed(s.get("words"), "word")
    ]
    duration = info.get("duration")
    if not isinstance(duration, int | float):
        duration = (segments or words)[-1].end if (segments or words) else None
    vtt = result.get("vtt") if isinstance(result.get("vtt"), str) else None
    return Transcript(text.strip(), info.get("language"), duration, segments, words, vtt)


def _timed(items: Any, key: str) -> list[Timed]:
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            start, end = item.get("start"), item.get("end")
            if isinstance(start, int | float) and isinstance(end, int | float):
                found.append(Timed(item[key].strip() if key == "text" else item[key], float(start), float(end)))
    return found


def build_speech(family: SpeechModel, text: str, voice: str, response_format: str) -> bytes:
    if family.wire == "melotts":
        return orjson.dumps({"prompt": text, "lang": voice})
    encoding, container = AURA_ENCODINGS[response_format]
    body: dict[str, Any] = {"text": text, "speaker": voice, "encoding": encoding}
    if container is not None:
        body["container"] = container
    return orjson.dumps(body)


def speech_audio(body: bytes | None, result: Any, response_format: str) -> bytes:
    """The audio, whether the model sent it as bytes or as base64 in JSON."""
    if body is not None:
        return body
    return base64_field(result, "audio", "audio")
