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
GATEWAY = "gw-main"
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


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    chunks: list[bytes] | None = None  # a streamed body, written piece by piece
    chunk_delay: float = 0.0  # between two chunks
    delay: float = 0.0  # before the status line
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    drop: bool = False  # close the connection instead of answering
    drop_after_chunks: bool = False  # cut the connection after the chunks, with no end of stream
    hold: threading.Event | None = None  # after the first chunk, wait until the test sets it


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
        self.gateway_token: str | None = None  # when set, gateway routes demand it in cf-aig-authorization
        self.catalogue_requests: list[Recorded] = []
        self.catalogue_reply: Reply | None = None  # e.g. a 403 for a token that may not list models
        self.feedback: dict[str, Any] = {}  # gateway log id -> the last PATCH body
        self.catalogue: list[dict[str, Any]] = [catalogue_entry(name, task) for name, task in CATALOGUE]
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
        self.gateway_token = None
        self.catalogue_requests.clear()
        self.catalogue_reply = None
        self.feedback.clear()
        self.catalogue = [catalogue_entry(name, task) for name, task in CATALOGUE]

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
        recorded = Recorded(request.method, request.path, dict(request.headers), body)
        if request.path.endswith("/ai/models/search"):
            # the proxy reads the catalogue on its own schedule: kept apart from the requests tests script
            self.catalogue_requests.append(recorded)
            return await self._send(request, self.catalogue_reply or self._default(request, body))
        self.requests.append(recorded)
        reply = self._script.pop(0) if self._script else self._default(request, body)
        return await self._send(request, reply)

    async def _send(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            return self._cut(request, web.Response(status=200))
        if reply.chunks is None:
            payload = reply.body if reply.body is not None else orjson.dumps(reply.json)
            ctype = reply.content_type or "application/json"
            return web.Response(body=payload, status=reply.status, headers=reply.headers, content_type=ctype)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = reply.content_type or "text/event-stream"
        await response.prepare(request)
        try:
            for index, chunk in enumerate(reply.chunks):
                if index == 1 and reply.hold is not None:
                    await asyncio.get_running_loop().run_in_executor(None, reply.hold.wait, 60)
                if index and reply.chunk_delay:  # between chunks: the end follows the last one at once
                    await asyncio.sleep(reply.chunk_delay)
                await response.write(chunk)
            if reply.drop_after_chunks:
                await asyncio.sleep(0.05)  # let the chunks reach the proxy before the cut
                return self._cut(request, response)
            await response.write_eof()
        except ConnectionResetError:  # the proxy went away mid-stream
            self.disconnects.append(time.monotonic())
            return response
        except asyncio.CancelledError:
            self.disconnects.append(time.monotonic())
            raise
        return response

    @staticmethod
    def _cut(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Abort the TCP connection: the peer sees a reset, not an orderly end."""
        if request.transport is not None:
            request.transport.abort()
        return response

    def _default(self, request: web.Request, body: Any) -> Reply:
        """Workers AI as the wire spec describes it, on every route the proxy may use."""
        path = request.path
        if path.startswith(f"/gateway/v1/{ACCOUNT}/{GATEWAY}/"):
            return self._gateway(request, path[len(f"/gateway/v1/{ACCOUNT}/{GATEWAY}/") :], body)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, envelope_error(10000, "Authentication error"))
        account = f"/client/v4/accounts/{ACCOUNT}/"
        if path in ("/client/v4/user/tokens/verify", account + "tokens/verify"):  # wire spec 9.15
            return Reply(json={"result": {"id": "token-id", "status": "active"}, "success": True, "errors": []})
        if path == account + f"ai-gateway/gateways/{GATEWAY}":
            return Reply(json={"result": {"id": GATEWAY, "collect_logs": True}, "success": True, "errors": []})
        if path == account + "ai/models/search":
            return self._models_page(request)
        if path.startswith(account + f"ai-gateway/gateways/{GATEWAY}/logs/"):
            log_id = path.rsplit("/", 1)[1]
            log = {"id": log_id, "provider": "workers-ai", "model": "@cf/meta/llama-3.1-8b-instruct", "success": True}
            if request.method == "PATCH":
                self.feedback[log_id] = body
            return Reply(json={"result": {**log, **(self.feedback.get(log_id) or {})}, "success": True, "errors": []})
        if path.startswith(account + "ai/run/") and isinstance(body, dict):
            return self._native(path[len(account + "ai/run/") :], body)
        if path in (account + "ai/v1/chat/completions", account + "ai/v1/embeddings") and isinstance(body, dict):
            return self._openai(path.rsplit("/", 1)[1], body)
        return Reply(400, envelope_error(7000, "No route for that URI"))

    def _gateway(self, request: web.Request, rest: str, body: Any) -> Reply:
        if (
            self.gateway_token is not None
            and request.headers.get("cf-aig-authorization") != f"Bearer {self.gateway_token}"
        ):
            return Reply(401, {"success": False, "error": [{"code": 2009, "message": "Unauthorized"}]})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, envelope_error(10000, "Authentication error"))
        if not isinstance(body, dict):
            return Reply(400, {"success": False, "error": [{"code": 2001, "message": "Bad request"}]})
        if rest in ("workers-ai/v1/chat/completions", "workers-ai/v1/embeddings"):
            reply = self._openai(rest.rsplit("/", 1)[1], body)
        elif rest == "compat/chat/completions":
            provider, _, model = str(body.get("model", "")).partition("/")
            if provider not in ("workers-ai", "openai", "anthropic"):
                return Reply(400, {"success": False, "error": [{"code": 2008, "message": "Invalid provider"}]})
            reply = self._openai("completions", {**body, "model": model if provider == "workers-ai" else body["model"]})
        elif rest.startswith("workers-ai/"):
            reply = self._native(rest[len("workers-ai/") :], body)
        else:
            return Reply(404, {"success": False, "error": [{"code": 2001, "message": "No such gateway route"}]})
        reply.headers.update({"cf-aig-log-id": "01JADMCQQQBWH3NXZ5GCRN98DP", "cf-aig-cache-status": "MISS"})
        return reply

    def _native(self, model: str, body: dict[str, Any]) -> Reply:
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
        n = min(int(body.get("max_tokens", 256)), 12)  # a 12-token answer unless the budget is smaller
        usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n}
        if not body.get("stream"):
            result = {"response": text_of(n), "tool_calls": [], "usage": usage}
            return Reply(json={"result": result, "success": True, "errors": [], "messages": []})
        chunks = [sse({"response": w, "p": "abcdefgh"[: i % 8 + 1]}) for i, w in enumerate(words(n))]
        chunks.append(sse({"response": ""}) + sse({"response": "", "usage": usage}) + sse(b"[DONE]"))
        return Reply(chunks=chunks)

    def _openai(self, resource: str, body: dict[str, Any]) -> Reply:
        """Workers AI's OpenAI-compatible endpoints: OpenAI shapes, `id-<ms>` ids, finish on the usage chunk."""
        model = str(body.get("model", ""))
        if resource == "embeddings":
            texts = body.get("input") if isinstance(body.get("input"), list) else [body.get("input")]
            dims = EMBED_DIMS.get(model, 8)
            data = [
                {"object": "embedding", "index": i, "embedding": vector(label(str(t)), dims)}
                for i, t in enumerate(texts)
            ]
            return Reply(
                json={"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 3, "total_tokens": 3}}
            )
        n = min(int(body.get("max_tokens", 256)), 12)
        usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n}
        base = {"id": "id-1776784307643", "created": 1776784307, "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": text_of(n), "reasoning_content": None, "tool_calls": None}
            choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None, "matched_stop": 2}
            return Reply(json={**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        chunk = {**base, "object": "chat.completion.chunk"}
        chunks = [sse({**chunk, "choices": [{"index": 0, "delta": {"content": w}}]}) for w in words(n)]
        final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
        chunks.append(sse(final) + sse(b"[DONE]"))
        return Reply(chunks=chunks)

    def _models_page(self, request: web.Request) -> Reply:
        page = int(request.query.get("page", "1"))
        per_page = int(request.query.get("per_page", "20"))
        chunk = self.catalogue[(page - 1) * per_page : page * per_page]
        info = {"count": len(chunk), "page": page, "per_page": per_page, "total_count": len(self.catalogue)}
        return Reply(json={"result": chunk, "result_info": info, "success": True, "errors": [], "messages": []})
