"""Golden cases for embeddings, per dialect: tests/golden/<dialect>/embeddings/<case>/ holds `request.json`,
`upstream_request.json` (one body per upstream batch), `upstream_reply.json` (one reply per batch) and
`expected.json`, run through the real batching (app/embeddings/batches.py) and the dialect's translators."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from app.dialects import DIALECTS
from app.embeddings.batches import EmbeddingJob, InputLimits
from app.models.embedding import embedding_model
from app.protocol.embeddings import EmbeddingRequest
from app.routing.resolver import Router
from tests import openai_schema

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/embeddings/*") if p.is_dir())
LIMITS = InputLimits(max_inputs=2048, max_chars=2_000_000)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run(case: Path) -> tuple[list[Any], Any]:
    translator = DIALECTS[case.parent.parent.name].embeddings
    assert translator is not None
    request = EmbeddingRequest.model_validate(load(case / "request.json"))
    route = Router({}).resolve(request.model)
    job = EmbeddingJob.plan(request, route, embedding_model(route.model_id), LIMITS)
    replies = iter(load(case / "upstream_reply.json"))
    sent: list[Any] = []

    async def embed(texts: list[str]) -> list[list[float]]:
        sent.append(translator.build(texts, route, route.model_id))
        return translator.parse(next(replies), len(texts))

    return sent, asyncio.run(job.run(embed))


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.parent.name}-{p.name}")
def test_embeddings(case: Path) -> None:
    sent, reply = run(case)
    assert sent == load(case / "upstream_request.json")
    if load(case / "request.json").get("encoding_format") != "base64":  # the schema knows only float arrays
        assert openai_schema.problems("CreateEmbeddingResponse", reply) == []
    assert reply == load(case / "expected.json")
