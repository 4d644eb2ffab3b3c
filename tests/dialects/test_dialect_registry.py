"""Adding a dialect is one folder (here, a class) plus one registry line; adding a target is one class plus one
line; a route that has no translator for a resource is one 400. In-process, through the transport seam."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from app import dialects
from app.chat.answer import UpstreamAnswer
from app.chat.choice_stream import ChoiceStream
from app.dialects.base import Dialect
from app.dialects.stream_events import ChatEventStream
from app.main import create_app
from app.protocol.chat import ChatCompletionRequest
from app.routing import upstreams
from app.routing.route import Route
from app.settings import Settings
from app.upstream import targets
from app.upstream.targets import Account, Destination

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


class ShoutChat:
    """A toy dialect: the upstream takes `{"say": ...}` and answers `{"shout": ...}`."""

    def build(
        self, request: ChatCompletionRequest, route: Route, max_tokens: int, *, stream: bool, model: str
    ) -> dict[str, Any]:
        return {"say": request.messages[-1].content, "model": model}

    def parse(self, payload: Any) -> UpstreamAnswer:
        return UpstreamAnswer(content=payload["shout"], finish="stop")

    def stream(self, sink: ChoiceStream) -> ChatEventStream:
        return ChatEventStream(sink)


class ToyTarget:
    name: ClassVar[str] = "toy-target"
    takes_workers_ai_options: ClassVar[bool] = False
    takes_session_affinity: ClassVar[bool] = False

    def __init__(self, account: Account) -> None:
        self._account = account

    def chat(self, model_id: str) -> Destination:
        return Destination(self._account.ai + "toy/shout", "toy:" + model_id, False)

    def embeddings(self, model_id: str) -> Destination:
        return self.chat(model_id)


@pytest.fixture()
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dialects.DIALECTS, "shout", Dialect("shout", chat=ShoutChat()))  # the dialect's line
    monkeypatch.setattr(targets, "TARGET_TYPES", (*targets.TARGET_TYPES, ToyTarget))  # the target's line
    monkeypatch.setitem(upstreams.UPSTREAMS, "shout", upstreams.Upstream("shout", "toy-target"))  # a route to them


def test_a_toy_dialect_and_target_serve_chat_and_refuse_what_they_lack(registered: None) -> None:
    sent: list[tuple[str, Any]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ai/models/search"):
            return httpx.Response(200, json={"result": [], "success": True})
        body = orjson.loads(request.content)
        sent.append((request.url.path, body))
        return httpx.Response(200, json={"shout": str(body["say"]).upper()})

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        cloudflare_account_id="acct",
        cloudflare_api_token="token",
        proxy_upstream="shout",
    )
    with TestClient(create_app(settings, transport=httpx.MockTransport(upstream))) as client:
        reply = client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"] == "HI"
        assert sent == [("/client/v4/accounts/acct/ai/toy/shout", {"say": "hi", "model": "toy:" + MODEL})]

        refused = client.post("/v1/embeddings", json={"model": "@cf/baai/bge-small-en-v1.5", "input": "x"})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "unsupported_route"
        assert "not supported by this route" in refused.json()["error"]["message"]
        assert len(sent) == 1


def test_an_unknown_upstream_name_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown upstream 'shout'; choose one of native, openai, compat"):
        Settings(_env_file=None, cloudflare_account_id="a", proxy_upstream="shout")  # type: ignore[call-arg]
