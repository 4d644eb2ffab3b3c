"""A transcript as OpenAI's transcription formats write it: `json`, `text`, `srt`, `vtt`, `verbose_json` (segments
and words with timestamps where the model gave them), whatever model made it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
PIECES = re.compile(r"\s*\S+")  # a word with the space before it


@dataclass(frozen=True, slots=True)
class Timed:
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[Timed] = field(default_factory=list)
    words: list[Timed] = field(default_factory=list)
    vtt: str | None = None  # the model's own WebVTT, when it wrote one


def as_json(transcript: Transcript, granularities: set[str], task: str) -> dict[str, Any]:
    reply: dict[str, Any] = {"text": transcript.text}
    if transcript.duration is not None:
        reply["usage"] = {"type": "duration", "seconds": max(0, round(transcript.duration))}
    return reply


def as_verbose_json(transcript: Transcript, granularities: set[str], task: str) -> dict[str, Any]:
    segments = _segments(transcript)
    reply: dict[str, Any] = {
        "task": task,
        "language": transcript.language or "english",
        "duration": round(transcript.duration if transcript.duration is not None else _end(segments), 3),
        "text": transcript.text,
    }
    if not granularities or "segment" in granularities:
        reply["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
            }
            for index, s in enumerate(segments)
        ]
    if "word" in granularities:
        reply["words"] = [
            {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)} for w in transcript.words
        ]
    if transcript.duration is not None:
        reply["usage"] = {"type": "duration", "seconds": max(0, round(transcript.duration))}
    return reply


def as_events(transcript: Transcript) -> bytes:
    """OpenAI's transcription stream: the text in word-sized `transcript.text.delta` events, then
    `transcript.text.done` with all of it."""
    events = [{"type": "transcript.text.delta", "delta": piece} for piece in PIECES.findall(transcript.text)]
    events.append({"type": "transcript.text.done", "text": transcript.text})
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events)


def as_text(transcript: Transcript) -> str:
    return transcript.text + "\n"


def as_srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text.strip()}\n"
        for index, s in enumerate(_segments(transcript), start=1)
    ]
    return "\n".join(blocks)


def as_vtt(transcript: Transcript) -> str:
    if transcript.vtt and transcript.vtt.lstrip().startswith("WEBVTT"):
        return transcript.vtt
    cues = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text.strip()}\n" for s in _segments(transcript)]
    return "WEBVTT\n\n" + "\n".join(cues)


def _segments(transcript: Transcript) -> list[Timed]:
    """The model's segments; else one made of its words, or of the whole text and duration."""
    if transcript.segments:
        return transcript.segments
    if transcript.words:
        return [Timed(transcript.text, transcript.words[0].start, transcript.words[-1].end)]
    return [Timed(transcript.text, 0.0, transcript.duration or 0.0)]


def _end(segments: list[Timed]) -> float:
    return segments[-1].end if segments else 0.0


def _stamp(seconds: float, comma: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{comma}{millis:03d}"
