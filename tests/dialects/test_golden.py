"""Golden cases per dialect and resource: request -> upstream body, upstream reply -> OpenAI reply.

Each folder under tests/golden/<dialect>/chat/<case>/ holds `request.json`, `upstream_request.json` and
either `upstream_reply.json` + `expected.json` or `upstream_reply.sse` + `expected_stream.json` (frames in a
compact form: the choice's `delta`/`finish_reason`, or `usage`, or "[DONE]"). Every SSE reply is fed whole,
one byte at a time and in random pieces, and must give the same frames.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.chat.answer import chat_completion, finalize
from app.chat.choice_stream import ChoiceStream
from app.chat.ids import CompletionIds
from app.chat.plan import OutputPlan
from app.chat.request import output_plan
from app.dialects import DIALECTS
from app.frames.openai import ChunkEncoder, OpenAIEnding
from app.pipeline.stream import StreamBody, choice_frames
from app.protocol.chat import ChatCompletionRequest
from app.routing.resolver import Router
from tests import openai_schema

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/chat/*") if p.is_dir())
DEFAULT_MAX_TOKENS = 4096
ALIASES = {"gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def prepare(case: Path) -> tuple[Any, ChatCompletionRequest, CompletionIds, OutputPlan]:
    dialect = DIALECTS[case.parent.parent.name].chat
    request = ChatCompletionRequest.model_validate(load(case / "request.json"))
    max_tokens = request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS
    ctx = CompletionIds.new(request.model, request.include_usage)
    plan = output_plan(request, Router(ALIASES).resolve(request.model), max_tokens)
    return dialect, request, ctx, plan


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.parent.name}-{p.name}")
def test_upstream_request(case: Path) -> None:
    dialect, request, _, plan = prepare(case)
    route = Router(ALIASES).resolve(request.model)
    body = dialect.build(request, route, plan.max_tokens, stream=bool(request.stream), model=route.model_id)
    assert body == load(case / "upstream_request.json")


@pytest.mark.parametrize("case", [c for c in CASES if (c / "expected.json").exists()], ids=lambda p: p.name)
def test_reply(case: Path) -> None:
    dialect, _, ctx, plan = prepare(case)
    answer = dialect.parse(load(case / "upstream_reply.json"))
    reply = dict(chat_completion(ctx, [finalize(answer, plan)]))
    assert openai_schema.problems("CreateChatCompletionResponse", reply) == []
    assert reply.pop("id") == ctx.completion_id and ctx.completion_id.startswith("chatcmpl-")
    assert reply.pop("created") == ctx.created
    assert reply == load(case / "expected.json")


def chunkings(data: bytes) -> dict[str, list[bytes]]:
    rng = random.Random(len(data))
    pieces, i = [], 0
    while i < len(data):
        step = rng.randint(1, 40)
        pieces.append(data[i : i + step])
        i += step
    return {"whole": [data], "bytewise": [data[i : i + 1] for i in range(len(data))], "random": pieces}


class Pieces(httpx.AsyncByteStream):
    """An upstream body arriving in the given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def relay(dialect: Any, ctx: CompletionIds, plan: OutputPlan, pieces: list[bytes]) -> list[Any]:
    """The real relay (app/pipeline/stream.py) over an upstream body cut into `pieces`: the bytes a client gets."""

    async def frames() -> bytes:
        encoder = ChunkEncoder(*ctx.head, include_usage=ctx.include_usage)
        sink = ChoiceStream(encoder, plan)
        response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces(pieces))
        body = StreamBody(
            [choice_frames(response, dialect.stream(sink), sink)],
            [sink],
            OpenAIEnding(encoder if ctx.include_usage else None),
        )
        return b"".join([frame async for frame in body])

    return compact(asyncio.run(frames()), ctx)


def compact(stream: bytes, ctx: CompletionIds) -> list[Any]:
    assert stream.endswith(b"\n\n")
    frames: list[Any] = []
    for block in stream.decode().split("\n\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block
        data = block[6:]
        if data == "[DONE]":
            frames.append(data)
            continue
        chunk = json.loads(data)
        assert openai_schema.problems("CreateChatCompletionStreamResponse", chunk) == []
        assert (chunk["id"], chunk["created"], chunk["model"]) == (ctx.completion_id, ctx.created, ctx.model)
        assert chunk["object"] == "chat.completion.chunk"
        if chunk["choices"]:
            assert ("usage" in chunk) == ctx.include_usage and chunk.get("usage") is None
            (choice,) = chunk["choices"]
            item = {"delta": choice["delta"]}
            if choice["finish_reason"] is not None:
                item["finish_reason"] = choice["finish_reason"]
            frames.append(item)
        else:
            frames.append({"usage": chunk["usage"]})
    return frames


@pytest.mark.parametrize("case", [c for c in CASES if (c / "upstream_reply.sse").exists()], ids=lambda p: p.name)
def test_stream(case: Path) -> None:
    dialect, _, ctx, plan = prepare(case)
    expected = load(case / "expected_stream.json")
    for name, pieces in chunkings((case / "upstream_reply.sse").read_bytes()).items():
        assert relay(dialect, ctx, plan, pieces) == expected, f"fed {name}"
