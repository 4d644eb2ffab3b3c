"""multipart/form-data bodies, for the models that take nothing else (FLUX.2, wire spec 9.2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    value: bytes | str
    filename: str | None = None
    content_type: str | None = None


def encode(parts: list[Part]) -> tuple[bytes, str]:
    """The body and its Content-Type (with a boundary no part contains)."""
    boundary = "wap" + secrets.token_hex(16)
    marker = boundary.encode()
    chunks: list[bytes] = []
    for part in parts:
        value = part.value.encode() if isinstance(part.value, str) else part.value
        if marker in value:  # astronomically unlikely; then a fresh boundary
            return encode(parts)
        disposition = f'form-data; name="{_quoted(part.name)}"'
        if part.filename is not None:
            disposition += f'; filename="{_quoted(part.filename)}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if part.content_type is not None:
            head += f"Content-Type: {part.content_type}\r\n"
        chunks += [head.encode(), b"\r\n", value, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
