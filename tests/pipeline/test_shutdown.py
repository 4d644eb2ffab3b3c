"""SIGTERM against the console script with streams in flight: the ones that can finish within
PROXY_DRAIN_TIMEOUT do, the rest end with an error frame and [DONE], and the process exits."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import StartProxy
from tests.console import RunningProxy, clean_env
from tests.fake_upstream import ACCOUNT, TOKEN, FakeUpstream, Reply, sse
from tests.streams import data_payloads

MODEL = "@cf/meta/llama-3.1-8b-instruct"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "stream": True}


def tokens(n: int) -> list[bytes]:
    usage = {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}
    return [sse({"response": f"t{i} "}) for i in range(n)] + [sse({"response": "", "usage": usage}), sse(b"[DONE]")]


class Reader(threading.Thread):
    """Reads one stream in the background; `started` is set once its first bytes are in."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.started = threading.Event()
        self.text = ""
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream("POST", self.url + "/v1/chat/completions", json=CHAT, timeout=30) as response:
                for chunk in response.iter_text():
                    self.text += chunk
                    self.started.set()
        except BaseException as exc:  # reported by the test
            self.failure = exc
            self.started.set()

    def frames(self) -> list[str]:
        return data_payloads(self.text)


def test_sigterm_lets_short_streams_finish_and_ends_the_rest_with_an_error_frame(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    env = clean_env(
        CLOUDFLARE_ACCOUNT_ID=ACCOUNT,
        CLOUDFLARE_API_TOKEN=TOKEN,
        CLOUDFLARE_API_BASE=fake.base_url,
        PROXY_DRAIN_TIMEOUT="5",  # room for the short stream on a loaded machine
        PROXY_MAX_RETRIES="0",
    )
    fake.script(
        Reply(chunks=tokens(6), chunk_delay=0.1),  # done about 0.6 s after the signal: within the drain
        Reply(chunks=tokens(300), chunk_delay=0.1),  # needs 30 s: ended at the drain deadline
    )
    with RunningProxy(cwd=tmp_path, env=env) as proxy:
        short, long = Reader(proxy.url), Reader(proxy.url)
        short.start()
        assert short.started.wait(10)
        long.start()
        assert long.started.wait(10)
        signalled = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        short.join(60)
        long.join(60)
        ended = time.monotonic() - signalled
        proxy.process.wait(60)
        output = proxy.output()

    assert short.failure is None and long.failure is None, output
    finished = short.frames()
    assert finished[-1] == "[DONE]" and not any('"error"' in frame for frame in finished)
    assert json.loads(finished[-2])["choices"][0]["finish_reason"] == "stop"
    content = "".join(
        choice["delta"].get("content") or "" for frame in finished[:-1] for choice in json.loads(frame)["choices"]
    )
    assert content == "".join(f"t{i} " for i in range(6))

    cut = long.frames()
    assert cut[-1] == "[DONE]"
    error = json.loads(cut[-2])["error"]
    assert error["code"] == "shutting_down" and "shutting down" in error["message"]
    # the long stream (30 s of tokens) ended with `shutting_down` above: the deadline, not its natural end
    assert ended > 1.0, "the drain did not wait for the short stream"
    assert proxy.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    for _ in range(3000):  # the fake notices the cut at its next write (an event to wait for, not a time limit)
        if fake.disconnects:
            break
        time.sleep(0.01)
    assert fake.disconnects, "the cut stream's upstream request was left running"


def test_health_reports_draining_and_new_requests_are_refused(start_proxy: StartProxy) -> None:
    server = start_proxy()
    drain = server.app.state.proxy.drain
    drain.draining = True  # as SIGTERM leaves it; uvicorn's own shutdown is not started here
    try:
        health = httpx.get(server.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "draining"
        refused = httpx.post(server.url + "/v1/chat/completions", json={**CHAT, "stream": False})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "shutting_down"
        assert "retry-after" in refused.headers
    finally:
        drain.draining = False
