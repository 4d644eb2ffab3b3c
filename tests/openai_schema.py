"""OpenAI's official OpenAPI document as the oracle for every reply an SDK client of the suite receives.

`sdk(url)` builds the `openai` client the tests use, with a transport that keeps a copy of each reply's body and,
when the reply is closed, validates it against the schema the document gives for that operation: whole replies,
every frame of a stream, and error bodies. Failures are collected (an exception inside the SDK's own code would be
swallowed or misread) and `conftest.py` fails the test that produced them.

The document is `../shared/spec/openai-openapi.json.gz` (openai/openai-openapi). Where it does not describe what
OpenAI itself sends, the reading here follows OpenAI: `nullable: true` (OpenAPI 3.0, in a 3.1 document) means "or
null"; a legacy completion's stream frames carry `finish_reason: null` until the last one, and `usage: null`
with `stream_options.include_usage` (the document gives them the whole reply's shape); base64 embeddings are
strings (the document has only the float arrays).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import openai

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "openai-openapi.json.gz"
failures: list[str] = []  # drained after every test by conftest.py

# (method, path after /v1) -> (schema of a whole reply, schema of one stream frame)
OPERATIONS = {
    ("POST", "/chat/completions"): ("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse"),
    ("POST", "/completions"): ("CreateCompletionResponse", "CreateCompletionResponse"),
    ("POST", "/embeddings"): ("CreateEmbeddingResponse", None),
    ("GET", "/models"): ("ListModelsResponse", None),
    ("POST", "/responses"): ("Response", "ResponseStreamEvent"),
    ("POST", "/responses/input_tokens"): ("TokenCountsResource", None),
    ("POST", "/images/generations"): ("ImagesResponse", None),
    ("POST", "/images/edits"): ("ImagesResponse", None),
    ("POST", "/moderations"): ("CreateModerationResponse", None),
}
# a transcription's or translation's JSON: verbose when it has a duration
AUDIO_TEXT = {
    "/audio/transcriptions": "CreateTranscriptionResponse",
    "/audio/translations": "CreateTranslationResponse",
}
RESPONSE_STREAM_EVENT = "ResponseStreamEvent"  # validated by the schema its `type` names (one of ~60)


@cache
def _document() -> dict[str, Any]:
    with gzip.open(SPEC) as raw:
        document: dict[str, Any] = json.load(raw)
    return _nullable_as_null(document)


def _nullable_as_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_as_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_as_null(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def validator(component: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{component}", "components": _document()["components"]}
    return jsonschema_rs.validator_for(schema)


@cache
def _event_schemas() -> dict[str, str]:
    """A Responses stream event's `type` -> the component that describes it."""
    schemas = _document()["components"]["schemas"]
    out = {}
    for option in schemas[RESPONSE_STREAM_EVENT]["anyOf"]:
        name = option["$ref"].rsplit("/", 1)[1]
        for kind in schemas[name]["properties"]["type"].get("enum", []):
            out[kind] = name
    return out


def _event_schema(kind: Any) -> str:
    return _event_schemas().get(str(kind), RESPONSE_STREAM_EVENT)


def problems(component: str, payload: Any) -> list[str]:
    return [
        f"{component}: {error.message} at {list(error.instance_path)}"
        for error in validator(component).iter_errors(payload)
    ]


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with one reply, by the document's schema for it (nothing for what it does not cover)."""
    if not body:
        return []
    if status >= 400:
        return problems("ErrorResponse", json.loads(body)) if "json" in content_type else []
    path = path.removeprefix("/v1")
    if path.startswith("/models/") and method == "GET":
        return problems("Model", json.loads(body))
    if path.startswith("/responses/") and method == "GET":
        listed = path.endswith("/input_items")
        return problems("ResponseItemList" if listed else "Response", json.loads(body))
    if path in AUDIO_TEXT and method == "POST":
        if "json" not in content_type:
            return []  # text, srt, vtt
        payload = json.loads(body)
        return problems(AUDIO_TEXT[path] + ("VerboseJson" if "duration" in payload else "Json"), payload)
    schemas = OPERATIONS.get((method, path))
    if schemas is None:
        return []
    whole, frame = schemas
    if "text/event-stream" not in content_type:
        return problems(whole, _as_documented(json.loads(body)))
    found: list[str] = []
    for data in _frames(body):
        if data == b"[DONE]":
            continue
        payload = json.loads(data)
        if frame == RESPONSE_STREAM_EVENT:
            found += problems(_event_schema(payload.get("type")), payload)
        else:
            found += problems("ErrorResponse" if "error" in payload else frame or whole, _as_documented(payload))
    return found


def _as_documented(payload: Any) -> Any:
    """What OpenAI sends and its document does not describe, in the documented shape (see the module doc)."""
    if not isinstance(payload, dict):
        return payload
    if payload.get("object") == "text_completion":
        if "usage" in payload and payload["usage"] is None:
            del payload["usage"]
        for choice in payload.get("choices") or []:
            if isinstance(choice, dict) and choice.get("finish_reason") is None:
                choice["finish_reason"] = "stop"
    if payload.get("object") == "list":
        for item in payload.get("data") or []:
            if isinstance(item, dict) and isinstance(item.get("embedding"), str):
                item["embedding"] = []
    return payload


def _frames(body: bytes) -> Iterator[bytes]:
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if data:
            yield b"\n".join(data)


class _Recorded(httpx.SyncByteStream):
    def __init__(self, request: httpx.Request, response: httpx.Response) -> None:
        self._request, self._response = request, response
        self._chunks: list[bytes] = []

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._response.stream:  # type: ignore[union-attr]  # a sync transport's stream
            self._chunks.append(chunk)
            yield chunk

    def close(self) -> None:
        self._response.close()
        body = b"".join(self._chunks)
        content_type = self._response.headers.get("content-type", "")
        try:
            found = check(self._request.method, self._request.url.path, self._response.status_code, content_type, body)
        except ValueError as exc:  # not JSON where JSON was due
            found = [f"unparsable reply: {exc}"]
        failures.extend(f"{self._request.method} {self._request.url.path}: {problem}" for problem in found)


class ValidatingTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Recorded(request, response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


def sdk(url: str, api_key: str = "sk-test", **options: Any) -> openai.OpenAI:
    """The `openai` client of the suite: replies checked against OpenAI's schema. `url` is the proxy's root."""
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 30)
    http_client = httpx.Client(transport=ValidatingTransport(), timeout=options["timeout"])
    return openai.OpenAI(base_url=url + "/v1", api_key=api_key, http_client=http_client, **options)
