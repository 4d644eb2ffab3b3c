"""The suite's Workers AI: the built-in emulator (app/emulator/) playing a strict test account, on a real
loopback socket in its own thread, with its scripting API.

Without a script it answers as the emulator does (wire spec sections 1-3, 6, 9): legacy text generation, streams
of `{"response": tok, "p": pad}` events closed by a usage event and `[DONE]`, embeddings as `{shape, data}`, the
OpenAI-compatible routes, AI Gateway's routes, v4 error envelopes. `script()` queues exact replies (status,
headers, body or raw stream chunks with delays, holds and cuts) for the next requests, and every request is
recorded for assertions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson

from app.emulator.generate import embedding, reply_tokens
from app.emulator.models import TEXT_GENERATION_MODELS
from app.emulator.script import Recorded, Script
from app.emulator.script import Scripted as Reply
from app.emulator.server import start_emulator
from app.emulator.world import World

__all__ = ["ACCOUNT", "GATEWAY", "TOKEN", "FakeUpstream", "Recorded", "Reply", "envelope_error", "sse"]

ACCOUNT = "acct-123"
TOKEN = "cf-secret-token-abc123"
GATEWAY = "gw-main"
EMBED_DIMS = {"@cf/baai/bge-small-en-v1.5": 384, "@cf/baai/bge-base-en-v1.5": 768, "@cf/baai/bge-m3": 1024}


def sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return b"data: " + data + b"\n\n"


def envelope_error(code: int, message: str) -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


CATALOGUE = [
    ("@cf/meta/llama-3.1-8b-instruct", "Text Generation"),
    ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "Text Generation"),
    ("@cf/openai/gpt-oss-120b", "Text Generation"),
    ("@cf/meta/llama-4-scout-17b-16e-instruct", "Text Generation"),
    ("@cf/baai/bge-base-en-v1.5", "Text Embeddings"),
    ("@cf/baai/bge-m3", "Text Embeddings"),
    ("@cf/black-forest-labs/flux-1-schnell", "Text-to-Image"),
]


def catalogue_entry(name: str, task: str) -> dict[str, Any]:
    """A model object as `/ai/models/search` returns it (wire spec 5.1)."""
    properties = [{"property_id": "context_window", "value": "131072"}] if task == "Text Generation" else []
    if name in ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/openai/gpt-oss-120b"):
        properties.append({"property_id": "function_calling", "value": "true"})
    return {
        "id": f"id-{abs(hash(name)) % 10**8}",
        "source": 1,
        "name": name,
        "description": f"{name} on the fake",
        "task": {"id": f"task-{task}", "name": task, "description": ""},
        "created_at": "2025-03-05 21:52:40.974",
        "tags": [],
        "properties": properties,
    }


def serves(model: str) -> bool:
    """The test account answers for any Meta model (tests name many) and every current Workers AI model."""
    return model.startswith("@cf/meta/") or model in TEXT_GENERATION_MODELS


def test_world() -> World:
    return World(
        account=ACCOUNT,
        token=TOKEN,
        gateway=GATEWAY,
        catalogue=[catalogue_entry(name, task) for name, task in CATALOGUE],
        chat_models=serves,
        embedding_dimensions=dict(EMBED_DIMS),
    )


class FakeUpstream:
    def __init__(self) -> None:
        self.world = test_world()
        self._script = Script()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-upstream", daemon=True)
        self.port = 0

    # -- control (called from the test thread) -------------------------------------------------
    def start(self) -> FakeUpstream:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    def script(self, *replies: Reply) -> None:
        self._script.push(*replies)

    def reset(self) -> None:
        """Back to a fresh account, once the previous test's requests are over (a stream cut as its proxy
        stopped is noticed a moment later, and must not be counted in the next test)."""
        for _ in range(1000):
            if not self._script.in_flight:
                break
            time.sleep(0.01)
        self._script.reset()
        world = test_world()
        self.world.gateway_token = None
        self.world.catalogue = world.catalogue
        self.world.feedback.clear()

    @property
    def requests(self) -> list[Recorded]:
        return self._script.requests

    @property
    def last(self) -> Recorded:
        return self._script.requests[-1]

    @property
    def disconnects(self) -> list[float]:
        return self._script.disconnects  # monotonic times at which a client went away mid-stream

    @property
    def catalogue_requests(self) -> list[Recorded]:
        return self._script.catalogue_requests

    @property
    def catalogue_reply(self) -> Reply | None:
        return self._script.catalogue_reply  # e.g. a 403 for a token that may not list models

    @catalogue_reply.setter
    def catalogue_reply(self, reply: Reply | None) -> None:
        self._script.catalogue_reply = reply

    @property
    def catalogue(self) -> list[dict[str, Any]]:
        assert self.world.catalogue is not None
        return self.world.catalogue

    @catalogue.setter
    def catalogue(self, entries: list[dict[str, Any]]) -> None:
        self.world.catalogue = entries

    @property
    def feedback(self) -> dict[str, Any]:
        return self.world.feedback  # gateway log id -> the last PATCH body

    @property
    def gateway_token(self) -> str | None:
        return self.world.gateway_token

    @gateway_token.setter
    def gateway_token(self, token: str | None) -> None:
        self.world.gateway_token = token  # when set, gateway routes demand it in cf-aig-authorization

    # -- server (runs in the fake's thread) ----------------------------------------------------
    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with start_emulator(0.0, self.world, self._script) as emulator:
            self.port = int(emulator.api_base.split(":")[2].split("/")[0])
            self._ready.set()
            await self._stop.wait()


def emulated_text(model: str, prompt: str, limit: int = 4096) -> str:
    """What the emulator answers `prompt` (the last user message) with, in at most `limit` tokens."""
    return "".join(reply_tokens(model, prompt, limit))


def emulated_vector(text: str, dimensions: int) -> list[float]:
    return embedding(text, dimensions)
