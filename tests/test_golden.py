"""Golden cases per dialect and resource: request -> upstream body, upstream reply -> OpenAI reply.

Each folder under tests/golden/<dialect>/chat/<case>/ holds `request.json`, `upstream_request.json` and
either `upstream_reply.json` + `expected.json` or `upstream_reply.sse` + `expected_stream.json` (frames in a
compact form: the choice's `delta`/`finish_reason`, or `usage`, or "[DONE]"). Every SSE reply is fed whole,
one byte at a time and in random pieces, and must give the same frames.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from app.catalog import Catalog
from app.dialects import REGISTRY
from app.dialects.context import ChatContext
from app.protocol.chat import ChatCompletionRequest
from app.streaming import ChunkEncoder
from app.upstream.sse import SSEDecoder

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/chat/*") if p.is_dir())
DEFAULT_MAX_TOKENS = 4096
ALIASES = {"gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def prepare(case: Path) -> tuple[Any, ChatCompletionRequest, ChatContext]:
    dialect = REGISTRY[case.parent.parent.name]
    request = ChatCompletionRequest.model_validate(load(case / "request.json"))
    max_tokens = request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS
    ctx = ChatContext.new(request.model, max_tokens, request.include_usage)
    return dialect, request, ctx


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.parent.name}-{p.name}")
def test_upstream_request(case: Path) -> None:
    dialect, request, ctx = prepare(case)
    route = Catalog(ALIASES).resolve(request.model)
    assert dialect.build_chat(request, route, ctx.max_tokens) == load(case / "upstream_request.json")


@pytest.mark.parametrize("case", [c for c in CASES if (c / "expected.json").exists()], ids=lambda p: p.name)
def test_reply(case: Path) -> None:
    dialect, _, ctx = prepare(case)
    reply = dict(dialect.parse_chat(load(case / "upstream_reply.json"), ctx))
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


def translate(dialect: Any, ctx: ChatContext, pieces: list[bytes]) -> list[Any]:
    translator = dialect.chat_stream(ctx, ChunkEncoder(ctx.completion_id, ctx.created, ctx.model))
    decoder = SSEDecoder()
    out = translator.start()
    for piece in pieces:
        for event in decoder.feed(piece):
            out += translator.feed(event)
    for event in decoder.flush():
        out += translator.feed(event)
    assert translator.done
    return compact(out, ctx)


def compact(stream: bytes, ctx: ChatContext) -> list[Any]:
    assert stream.endswith(b"\n\n")
    frames: list[Any] = []
    for block in stream.decode().split("\n\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block
        data = block[6:]
        if data == "[DONE]":
            frames.append(data)
            continue
        chunk = json.loads(data)
        assert (chunk["id"], chunk["created"], chunk["model"]) == (ctx.completion_id, ctx.created, ctx.model)
        assert chunk["object"] == "chat.completion.chunk"
        if chunk["choices"]:
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
    dialect, _, ctx = prepare(case)
    expected = load(case / "expected_stream.json")
    for name, pieces in chunkings((case / "upstream_reply.sse").read_bytes()).items():
        assert translate(dialect, ctx, pieces) == expected, f"fed {name}"
