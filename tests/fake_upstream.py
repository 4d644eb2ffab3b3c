"""A scriptable fake Workers AI REST server on a real loopback socket, run in its own thread.

Without a script it answers like Workers AI does (wire spec sections 1-3): legacy text generation,
streams of `{"response": tok, "p": pad}` events closed by a usage event and `[DONE]`, embeddings as
`{shape, data}`, and v4 error envelopes. `script()` queues exact replies (status, headers, body or raw
stream chunks with delays) for the next requests, and every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

ACCOUNT = "acct-123"
TOKEN = "cf-secret-token-abc123"
EMBED_DIMS = {"@cf/baai/bge-small-en-v1.5": 384, "@cf/baai/bge-base-en-v1.5": 768, "@cf/baai/bge-m3": 1024}


def words(n: int) -> list[str]:
    return [f"w{i} " for i in range(n)]


def text_of(n: int) -> str:
    return "".join(words(n))


def vector(index: int, dims: int) -> list[float]:
    return [round((index + 1) * 0.001 + d * 1e-5, 6) for d in range(dims)]


def label(text: str) -> int:
    """Texts ending in a number get the vector of that number, so tests can check the order."""
    last = text.split()[-1] if text.split() else ""
    return int(last) if last.isdigit() else 0


def sse(payload: Any) -> bytes:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return b"data: " + data + b"\n\n"


def envelope_error(code: int, message: str) -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    chunks: list[bytes] | None = None  # a streamed body, written piece by piece
    chunk_delay: float = 0.0
    delay: float = 0.0  # before the status line
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.disconnects: list[float] = []  # monotonic times at which a client went away mid-stream
        self._script: list[Reply] = []
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
        self._script.extend(replies)

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.disconnects.clear()

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # -- server (runs in the fake's thread) ----------------------------------------------------
    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        reply = self._script.pop(0) if self._script else self._default(request, body)
        return await self._send(request, reply)

    async def _send(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.chunks is None:
            payload = reply.body if reply.body is not None else orjson.dumps(reply.json)
            ctype = reply.content_type or "application/json"
            return web.Response(body=payload, status=reply.status, headers=reply.headers, content_type=ctype)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = reply.content_type or "text/event-stream"
        await response.prepare(request)
        try:
            for chunk in reply.chunks:
                await response.write(chunk)
                if reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects.append(time.monotonic())
            raise
        return response

    def _default(self, request: web.Request, body: Any) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, envelope_error(10000, "Authentication error"))
        prefix = f"/client/v4/accounts/{ACCOUNT}/ai/run/"
        if not request.path.startswith(prefix) or not isinstance(body, dict):
            return Reply(400, envelope_error(7000, "No route for that URI"))
        model = request.path[len(prefix) :]
        if model in EMBED_DIMS:
            texts = body["text"] if isinstance(body.get("text"), list) else [body.get("text")]
            if len(texts) > 100:
                return Reply(400, envelope_error(5006, "AiError: Bad input: must NOT have more than 100 items"))
            dims = EMBED_DIMS[model]
            data = [vector(label(str(t)), dims) for t in texts]
            return Reply(
                json={"result": {"shape": [len(texts), dims], "data": data, "pooling": "mean"}, "success": True}
            )
        if not model.startswith("@cf/meta/"):
            return Reply(400, envelope_error(5007, f"No such model {model} or task"))
        n = int(body.get("max_tokens", 256))
        n = min(n, 12)  # a 12-token answer unless the budget is smaller
        usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n}
        if not body.get("stream"):
            result = {"response": text_of(n), "tool_calls": [], "usage": usage}
            return Reply(json={"result": result, "success": True, "errors": [], "messages": []})
        chunks = [sse({"response": w, "p": "abcdefgh"[: i % 8 + 1]}) for i, w in enumerate(words(n))]
        chunks.append(sse({"response": ""}) + sse({"response": "", "usage": usage}) + sse(b"[DONE]"))
        return Reply(chunks=chunks)
