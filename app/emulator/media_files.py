"""Small, valid, deterministic media for the emulator: a PNG of one colour, WAV silence, MP3 frames of silence, and
files that at least start as their format does (Ogg, FLAC, AAC)."""

from __future__ import annotations

import hashlib
import struct
import zlib

SIDE = 16  # emulated images are 16x16: small on the wire, valid everywhere
MP3_FRAME = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 26 ms of silence


def png(seed: str) -> bytes:
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * SIDE
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * SIDE))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def wav(seconds: float, rate: int = 16_000) -> bytes:
    samples = bytes(2 * int(seconds * rate))  # 16-bit mono silence
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp3(seconds: float) -> bytes:
    return MP3_FRAME * max(1, round(seconds / 0.026))


def audio(encoding: str, container: str, seconds: float) -> tuple[bytes, str]:
    """What Deepgram's Aura answers for an encoding and container: bytes and content type."""
    if encoding == "mp3":
        return mp3(seconds), "audio/mpeg"
    if encoding == "linear16":
        data = wav(seconds, 24_000)
        return (data, "audio/wav") if container == "wav" else (data[44:], "audio/l16")
    if encoding == "opus":
        return b"OggS\x00\x02" + bytes(64), "audio/ogg"
    if encoding == "flac":
        return b"fLaC" + bytes(64), "audio/flac"
    if encoding == "aac":
        return b"\xff\xf1\x50\x80" + bytes(64), "audio/aac"
    return bytes(int(seconds * 8000)), "audio/basic"  # mulaw / alaw


def audio_seconds(data: bytes) -> float:
    """How long some audio lasts: a WAV's own header says; anything else is taken as 16 kB a second."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) >= 44:
        byte_rate: int = struct.unpack("<I", data[28:32])[0]
        if byte_rate:
            return max(0.0, (len(data) - 44) / byte_rate)
    return len(data) / 16_000
