"""One embeddings request as upstream batches: input checks, splitting, ordered merge, OpenAI encoding."""

from __future__ import annotations

import asyncio
import base64
import sys
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.errors import InvalidRequest
from app.models.embedding import DEFAULT_EMBEDDING_BATCH, EmbeddingModel
from app.protocol.embeddings import CreateEmbeddingResponse, Embedding, EmbeddingRequest
from app.routing.route import Route
from app.token_text import decode

MAX_PARALLEL_BATCHES = 4
CHARS_PER_TOKEN = 4  # Workers AI returns no token count for embeddings; usage is estimated from length

EmbedBatch = Callable[[list[str]], Awaitable[list[list[float]]]]


@dataclass(frozen=True, slots=True)
class InputLimits:
    """What one request may ask for: upstream calls and reply size grow with both."""

    max_inputs: int  # OpenAI's own limit is 2048
    max_chars: int  # all inputs together


@dataclass(frozen=True, slots=True)
class EmbeddingJob:
    route: Route
    texts: list[str]
    batch_size: int
    base64: bool
    dimensions: int | None

    @classmethod
    def plan(
        cls, request: EmbeddingRequest, route: Route, model: EmbeddingModel | None, limits: InputLimits
    ) -> EmbeddingJob:
        texts = input_texts(request.input, limits, request.model)
        if request.dimensions is not None and model is not None and request.dimensions != model.dimensions:
            raise InvalidRequest(
                f"{route.requested} returns {model.dimensions}-dimensional embeddings and cannot shorten "
                f"them to {request.dimensions}; omit 'dimensions' or set it to {model.dimensions}.",
                param="dimensions",
                code="unsupported_value",
            )
        return cls(
            route=route,
            texts=texts,
            batch_size=model.max_batch if model is not None else DEFAULT_EMBEDDING_BATCH,
            base64=request.encoding_format == "base64",
            dimensions=request.dimensions,
        )

    async def run(self, embed: EmbedBatch, known: list[list[float] | None] | None = None) -> CreateEmbeddingResponse:
        """`known`: vectors already at hand (the reply cache), in input order; only the others are embedded."""
        merged: list[list[float] | None] = list(known) if known is not None else [None] * len(self.texts)
        missing = [i for i, vector in enumerate(merged) if vector is None]
        fetched = await self._embed_all(embed, [self.texts[i] for i in missing]) if missing else []
        for i, vector in zip(missing, fetched, strict=True):
            merged[i] = vector
        vectors = [vector for vector in merged if vector is not None]
        if self.dimensions is not None and vectors and len(vectors[0]) != self.dimensions:
            raise InvalidRequest(
                f"{self.route.requested} returns {len(vectors[0])}-dimensional embeddings and cannot "
                f"shorten them to {self.dimensions}.",
                param="dimensions",
                code="unsupported_value",
            )
        data: list[Embedding] = [
            {"object": "embedding", "index": i, "embedding": encode_base64(v) if self.base64 else v}
            for i, v in enumerate(vectors)
        ]
        tokens = estimated_tokens(self.texts)
        return {
            "object": "list",
            "data": data,
            "model": self.route.requested,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def _embed_all(self, embed: EmbedBatch, texts: list[str]) -> list[list[float]]:
        size = self.batch_size
        if len(texts) <= size:
            return await embed(texts)
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        limit = asyncio.Semaphore(MAX_PARALLEL_BATCHES)

        async def bounded(batch: list[str]) -> list[list[float]]:
            async with limit:
                return await embed(batch)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(bounded(batch)) for batch in batches]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return [vector for task in tasks for vector in task.result()]


def estimated_tokens(texts: list[str]) -> int:
    """Workers AI counts no embedding tokens: about four characters a token."""
    return sum(-(-len(text) // CHARS_PER_TOKEN) for text in texts)


def input_texts(value: str | list[str | int | list[int]], limits: InputLimits, model_name: str) -> list[str]:
    """The texts to embed. Token arrays (one, or a list of them) are decoded back to text with the tiktoken
    encoding the model name implies: Workers AI embeds text."""
    texts = _items(value, model_name)
    if len(texts) > limits.max_inputs:
        raise InvalidRequest(
            f"'input' holds {len(texts)} items; at most {limits.max_inputs} are accepted per request "
            "(PROXY_EMBEDDINGS_MAX_INPUTS).",
            param="input",
            code="too_many_inputs",
        )
    chars = 0
    for text in texts:
        if not text:
            raise InvalidRequest("'input' must not contain empty strings or token arrays.", param="input")
        chars += len(text)
        if chars > limits.max_chars:
            raise InvalidRequest(
                f"'input' holds more than {limits.max_chars} characters in all (PROXY_EMBEDDINGS_MAX_CHARS).",
                param="input",
                code="input_too_large",
            )
    return texts


def _items(value: str | list[str | int | list[int]], model_name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not value:
        raise InvalidRequest("'input' must not be empty.", param="input")
    if all(isinstance(item, int) for item in value):  # one token array
        return [decode(value, model_name)]  # type: ignore[arg-type]  # every item checked to be an int
    if all(isinstance(item, str) for item in value):
        return value  # type: ignore[return-value]  # every item checked to be a str
    if all(isinstance(item, list) for item in value):
        return [decode(item, model_name) for item in value]  # type: ignore[arg-type]  # lists of ints (schema)
    raise InvalidRequest("'input' must be a string, a list of strings or a list of token arrays.", param="input")


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32, as OpenAI sends it and the `openai` SDK decodes it."""
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
