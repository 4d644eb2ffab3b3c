"""What an operator sees: /metrics, the access log, traces, /ready, and the seams' events, through a real server."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.errors import RateLimited
from app.exchange import Exchange
from app.main import Seams
from app.observe.log_format import JsonFormatter
from app.observe.observer import Attempt
from app.observe.traces import Traces
from tests import openai_schema
from tests.conftest import StartProxy
from tests.fake_upstream import TOKEN, FakeUpstream, Reply, envelope_error, sse

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
HELLO = [{"role": "user", "content": "Hello"}]
KEY = "sk-observed-client-key-0123456789"


def scrape(url: str) -> str:
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series, 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_tokens_attempts_and_streams(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_api_keys=[KEY])
    with openai_schema.sdk(server.url, api_key=KEY) as client:
        client.chat.completions.create(model=MODEL, messages=HELLO)  # type: ignore[arg-type]
        list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="no-such-model-" + KEY[-6:], messages=HELLO)  # type: ignore[arg-type]
        client.embeddings.create(model="@cf/baai/bge-small-en-v1.5", input="x")
    text = scrape(server.url)
    assert sample(text, "proxy_requests_total", endpoint="chat", model=MODEL, status="200") == 2
    assert sample(text, "proxy_requests_total", endpoint="chat", model="none", status="404") == 1
    assert sample(text, "proxy_requests_total", endpoint="embeddings", status="200") == 1
    assert sample(text, "proxy_tokens_total", endpoint="chat", model=MODEL, type="output") > 0
    assert sample(text, "proxy_upstream_attempts_total", model=MODEL, outcome="ok", code="none") == 2
    assert sample(text, "proxy_time_to_first_token_seconds_count", endpoint="chat", model=MODEL) == 1
    assert sample(text, "proxy_request_duration_seconds_count", endpoint="chat", model=MODEL) == 2
    assert sample(text, "proxy_in_flight_requests", endpoint="chat") == 0
    assert sample(text, "proxy_open_streams") == 0
    # no secret, and no client-chosen model name, in any label
    assert TOKEN not in text and KEY not in text and "no-such-model" not in text


def test_unknown_but_valid_model_ids_share_one_label(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy()
    for i in range(3):
        fake.script(Reply(400, envelope_error(5007, "No such model")))
        httpx.post(server.url + "/v1/chat/completions", json={"model": f"@cf/made/up-{i}", "messages": HELLO})
    text = scrape(server.url)
    assert "made/up" not in text
    assert sample(text, "proxy_requests_total", endpoint="chat", model="other", status="404") == 3


def test_retries_fallbacks_and_breakers_are_counted_and_logged(
    start_proxy: StartProxy, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    fallback = "@cf/meta/llama-3.1-8b-instruct-fast"
    server = start_proxy(
        proxy_max_retries=1,
        proxy_retry_base_delay=0.01,
        proxy_breaker_threshold=2,
        proxy_fallbacks={MODEL: [fallback]},
    )
    fake.script(Reply(500, envelope_error(3043, "Internal server error")), Reply(500, envelope_error(3043, "again")))
    with caplog.at_level(logging.INFO, logger="workers_ai_proxy"):
        response = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 200 and response.headers["x-served-model"] == fallback
    text = scrape(server.url)
    assert sample(text, "proxy_retries_total", model=MODEL) == 1
    assert sample(text, "proxy_upstream_attempts_total", model=MODEL, outcome="error", code="3043") == 2
    assert sample(text, "proxy_fallbacks_total", model=MODEL, fallback=fallback) == 1
    assert sample(text, "proxy_breaker_state", model=MODEL, upstream="native") == 1  # open after two failures
    messages = [record.getMessage() for record in caplog.records]
    assert any("retrying in" in m for m in messages)
    assert any("falling back to " + fallback in m for m in messages)
    assert any("circuit breaker for " + MODEL in m and "open" in m for m in messages)
    access = [m for m in messages if m.startswith("req_") or " chat " in m]
    assert any(f"{MODEL} -> {fallback} 200" in m and "attempts=3" in m and "fallbacks=" in m for m in access), access


def test_metrics_can_be_switched_off(start_proxy: StartProxy) -> None:
    server = start_proxy(proxy_metrics=False)
    assert httpx.get(server.url + "/metrics").status_code == 404


def test_access_log_has_one_line_per_request_without_secrets(
    start_proxy: StartProxy, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_proxy(proxy_api_keys=[KEY, "sk-second-key-abcdefghijkl"])
    with caplog.at_level(logging.INFO, logger="workers_ai_proxy.access"):
        ok = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": MODEL, "messages": HELLO},
            headers={"Authorization": "Bearer sk-second-key-abcdefghijkl", "x-request-id": "req-mine-1"},
        )
        bad = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert ok.status_code == 200 and bad.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "workers_ai_proxy.access"]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"req-mine-1 key-2 chat {MODEL} 200 ") and "tokens=" in lines[0]
    assert " - chat " in lines[1] and " 401 error=invalid_api_key" in lines[1]
    assert not any(KEY in line or "sk-second" in line or TOKEN in line for line in lines)


def test_bodies_are_logged_only_when_asked_and_scrubbed(
    start_proxy: StartProxy, fake: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    quiet = start_proxy()
    loud = start_proxy(proxy_log_bodies=True)
    prompt = [{"role": "user", "content": f"my token is {TOKEN}, secret words"}]
    with caplog.at_level(logging.INFO, logger="workers_ai_proxy.access"):
        httpx.post(quiet.url + "/v1/chat/completions", json={"model": MODEL, "messages": prompt})
        httpx.post(loud.url + "/v1/chat/completions", json={"model": MODEL, "messages": prompt})
    lines = [r.getMessage() for r in caplog.records if r.name == "workers_ai_proxy.access"]
    assert "secret words" not in lines[0]
    assert "secret words" in lines[1] and "[redacted]" in lines[1] and TOKEN not in lines[1]


def test_json_log_records_carry_the_access_fields() -> None:
    record = logging.LogRecord("workers_ai_proxy.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"request_id": "req_1", "status": 200, "endpoint": "chat"}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "info" and entry["message"] == "request"
    assert entry["request_id"] == "req_1" and entry["status"] == 200 and entry["time"].endswith("+00:00")


def test_traces_have_a_span_per_request_and_per_attempt(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = start_proxy(
        Seams(observers=[Traces(provider.get_tracer("test"))]), proxy_max_retries=1, proxy_retry_base_delay=0.01
    )
    fake.script(Reply(500, envelope_error(3043, "Internal server error")))
    response = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == f"chat {MODEL}")
    attempts = [s for s in spans if s.name == "upstream attempt"]
    assert request.attributes is not None
    assert request.attributes["gen_ai.operation.name"] == "chat"
    assert request.attributes["gen_ai.provider.name"] == "cloudflare.workers_ai"
    assert request.attributes["gen_ai.response.model"] == MODEL
    assert request.attributes["gen_ai.usage.output_tokens"] > 0  # type: ignore[operator]
    assert [a.attributes["workers_ai_proxy.outcome"] for a in attempts if a.attributes] == ["error", "ok"]
    assert all(a.parent is not None and a.parent.span_id == request.context.span_id for a in attempts)


def test_ready_follows_the_account_and_is_cached(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    server = start_proxy(proxy_ready_ttl=3600)
    ready = httpx.get(server.url + "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    for _ in range(3000):  # the start-up read of the catalogue, and the readiness look (an event, not a timing)
        if len(fake.catalogue_requests) >= 2:
            break
        time.sleep(0.01)
    for _ in range(3):
        assert httpx.get(server.url + "/ready").status_code == 200
    assert len(fake.catalogue_requests) == 2  # cached: probes cost no upstream call
    server.app.state.proxy.drain.draining = True  # what SIGTERM does first
    draining = httpx.get(server.url + "/ready")
    assert draining.status_code == 503 and draining.json()["draining"] is True
    fake.catalogue_reply = Reply(401, envelope_error(10000, "Authentication error"))
    broken = start_proxy(proxy_ready_ttl=3600)
    answer = httpx.get(broken.url + "/ready")
    assert answer.status_code == 503 and answer.json()["status"] == "not_ready"
    assert TOKEN not in answer.text


class Recorder:
    """An observer, admission and settlement hook at once, keeping what it heard."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.events: list[tuple[str, Any]] = []
        self.settled = threading.Event()
        self.finished = threading.Event()

    async def admit(self, exchange: Exchange) -> None:
        self.events.append(("admit", exchange.identity.name if exchange.identity else None))
        if self.refuse:
            raise RateLimited("Refused by a test hook.", code="test_limit")

    async def settle(self, exchange: Exchange) -> None:
        self.events.append(("settle", exchange.outcome))
        self.settled.set()

    def request_started(self, exchange: Exchange) -> None:
        self.events.append(("started", exchange.endpoint))

    def request_finished(self, exchange: Exchange) -> None:
        self.events.append(("finished", (exchange.status, exchange.outcome, exchange.usage is not None)))
        self.finished.set()

    def stream_opened(self, exchange: Exchange) -> None:
        self.events.append(("stream", None))

    def upstream_attempt(self, exchange: Exchange, attempt: Attempt) -> None:
        self.events.append(("attempt", attempt.outcome))

    def fallback_taken(self, exchange: Exchange, failed: str, next_model: str, reason: str | None) -> None:
        self.events.append(("fallback", next_model))

    def breaker_changed(self, upstream: str, model_id: str, state: str) -> None:
        self.events.append(("breaker", state))

    def drain_aborted(self, streams: int) -> None:
        self.events.append(("drain", streams))


@pytest.fixture()
def recorder() -> Iterator[Recorder]:
    yield Recorder()


def seams_of(recorder: Recorder) -> Seams:
    return Seams(admission=[recorder], settlement=[recorder], observers=[recorder])


def test_a_stream_settles_when_it_ends(start_proxy: StartProxy, fake: FakeUpstream, recorder: Recorder) -> None:
    server = start_proxy(seams_of(recorder))
    with openai_schema.sdk(server.url) as client:
        list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert recorder.finished.wait(10)
    names = [name for name, _ in recorder.events]
    assert names == ["started", "admit", "attempt", "stream", "settle", "finished"], recorder.events
    assert ("settle", "completed") in recorder.events and ("finished", (200, "completed", True)) in recorder.events


def test_a_stream_the_client_leaves_settles_as_disconnected(
    start_proxy: StartProxy, fake: FakeUpstream, recorder: Recorder
) -> None:
    fake.script(Reply(chunks=[sse({"response": f"t{i} "}) for i in range(200)] + [sse(b"[DONE]")], chunk_delay=0.05))
    server = start_proxy(seams_of(recorder))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content":"t1 "' in line:
                break
    assert recorder.finished.wait(10)
    assert ("settle", "disconnected") in recorder.events
    finished = [value for name, value in recorder.events if name == "finished"]
    assert finished[0][1] == "disconnected" and finished[0][2]  # charged what was generated


def test_an_admission_hook_can_refuse(start_proxy: StartProxy, fake: FakeUpstream) -> None:
    recorder = Recorder(refuse=True)
    server = start_proxy(seams_of(recorder))
    response = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 429 and response.json()["error"]["code"] == "test_limit"
    assert not fake.requests
    assert ("admit", "open") in recorder.events and ("finished", (429, "failed", False)) in recorder.events


def test_the_direct_access_line_is_the_formatted_one() -> None:
    from app.exchange import Exchange
    from app.observe.access_log import fields_of, line_of, text_line
    from app.policies.identity import Identity
    from app.routing.route import Route

    plain = Exchange("req_1", "chat", 1.0)
    full = Exchange("req_2", "chat", 1.0, Identity("team-a", "t"))
    full.model_asked, full.route = "fast", Route("fast", "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "openai")
    full.status, full.error_code, full.ended, full.first_token = 502, "upstream_error", 1.25, 1.0625
    full.usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    full.attempts, full.fallbacks, full.stream, full.outcome = 3, ["a", "b"], True, "failed"
    same = Exchange("req_3", "embeddings", 2.0, Identity("", "t"))
    same.model_asked, same.route, same.ended, same.usage = "m", Route("m", "m"), 2.5, {}
    for exchange in (plain, full, same):
        assert line_of(exchange) == text_line(fields_of(exchange))
