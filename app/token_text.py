"""Token arrays back to text: OpenAI clients (LangChain's `OpenAIEmbeddings` by default) send embeddings input as
tiktoken ids, and Workers AI embeds text.

Decoding needs only each encoding's vocabulary (token id -> bytes), no BPE. The vocabularies of `cl100k_base`
and `o200k_base` ship with the proxy in `app/data/` (tiktoken's own files, MIT licensed, byte for byte: their
SHA-256 is checked at load), so nothing is downloaded at run time. Each is read on first use (~6 and ~12 MB).
"""

from __future__ import annotations

import base64
import hashlib
import lzma
from functools import cache
from pathlib import Path

from app.errors import InvalidRequest

DATA = Path(__file__).parent / "data"
SHA256 = {  # of tiktoken's published files (openaipublic.blob.core.windows.net/encodings/<name>.tiktoken)
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
SPECIAL = {
    "cl100k_base": {
        100257: "<|endoftext|>",
        100258: "<|fim_prefix|>",
        100259: "<|fim_middle|>",
        100260: "<|fim_suffix|>",
        100276: "<|endofprompt|>",
    },
    "o200k_base": {199999: "<|endoftext|>", 200018: "<|endofprompt|>"},
}
# Model families tokenized with o200k_base; everything else (the embedding models among them) uses cl100k_base
O200K_FAMILIES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


def encoding_for(model_name: str) -> str:
    name = model_name.rsplit("/", 1)[-1].lower()
    return "o200k_base" if name.startswith(O200K_FAMILIES) else "cl100k_base"


def decode(ids: list[int], model_name: str) -> str:
    """The text of `ids`; a 400 naming `input` for ids that are no token of the encoding."""
    name = encoding_for(model_name)
    if name == "cl100k_base" and ids and max(ids) > 100276:
        name = "o200k_base"  # ids only o200k_base has: whatever the name says, that is what the client used
    vocabulary, special = _vocabulary(name), SPECIAL[name]
    pieces: list[bytes] = []
    for token in ids:
        if 0 <= token < len(vocabulary) and vocabulary[token] is not None:
            pieces.append(vocabulary[token])  # type: ignore[arg-type]  # checked not None
        elif token in special:
            pieces.append(special[token].encode())
        else:
            raise InvalidRequest(f"'input' holds {token}, which is no token of {name}.", param="input")
    return b"".join(pieces).decode("utf-8", "replace")


@cache
def _vocabulary(name: str) -> list[bytes | None]:
    raw = lzma.decompress((DATA / f"{name}.tiktoken.xz").read_bytes())
    if hashlib.sha256(raw).hexdigest() != SHA256[name]:
        raise RuntimeError(f"app/data/{name}.tiktoken.xz is not tiktoken's {name}")
    entries = [line.split(b" ") for line in raw.splitlines() if line]
    vocabulary: list[bytes | None] = [None] * (max(int(rank) for _, rank in entries) + 1)
    for token, rank in entries:
        vocabulary[int(rank)] = base64.b64decode(token)
    return vocabulary
