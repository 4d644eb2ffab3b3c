from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.main import Seams, create_app
from app.settings import Settings
from tests import openai_schema
from tests.fake_upstream import ACCOUNT, TOKEN, FakeUpstream
from tests.servers import ProxyServer

# The state database (keys, usage): never the working directory's. Proxies of the session share one file; each
# test gets its own (the autouse fixture below), so that keys made by one test do not reach another.
os.environ["PROXY_STATE_PATH"] = str(Path(tempfile.mkdtemp(prefix="wap-state-")) / "session.sqlite3")


def make_settings(upstream: FakeUpstream, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "cloudflare_account_id": ACCOUNT,
        "cloudflare_api_token": TOKEN,
        "cloudflare_api_base": upstream.base_url,
        "proxy_model_aliases": {"gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct"},
        # Tests of one behaviour each: retries and breakers are off unless a test turns them on
        # (tests/test_resilience.py), so a scripted failure is seen as it is.
        "proxy_max_retries": 0,
        "proxy_breaker_threshold": 1_000_000,
        # and the reply cache is off unless a test turns it on (tests/serving/test_cache.py): a repeated request
        # reaches the fake upstream, as the test that repeats it expects
        "proxy_cache": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture()
def fake(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    upstream.reset()
    yield upstream
    upstream.reset()


@pytest.fixture(scope="session")
def proxy(upstream: FakeUpstream) -> Iterator[ProxyServer]:
    """The proxy with a server token and no client keys, on a real socket."""
    server = ProxyServer(create_app(make_settings(upstream))).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXY_STATE_PATH", str(tmp_path / "state.sqlite3"))


@pytest.fixture(autouse=True)
def _replies_match_openais_schema() -> Iterator[None]:
    """Every reply an SDK client of the suite received (tests.openai_schema.sdk) validates against OpenAI's
    official OpenAPI document."""
    openai_schema.failures.clear()
    yield
    found, openai_schema.failures[:] = list(openai_schema.failures), []
    assert not found, "replies that OpenAI's schema rejects:\n" + "\n".join(found[:20])


@pytest.fixture()
def client(proxy: ProxyServer, fake: FakeUpstream) -> Iterator[openai.OpenAI]:
    with openai_schema.sdk(proxy.url, api_key="sk-anything", timeout=20) as sdk:
        yield sdk


@pytest.fixture()
def http(proxy: ProxyServer, fake: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=20) as raw:
        yield raw


StartProxy = Callable[..., ProxyServer]


@pytest.fixture()
def start_proxy(fake: FakeUpstream) -> Iterator[StartProxy]:
    """Start a proxy with settings of the test's own (on top of make_settings); stopped afterwards."""
    started: list[ProxyServer] = []

    def start(seams: Seams | None = None, **overrides: Any) -> ProxyServer:
        server = ProxyServer(create_app(make_settings(fake, **overrides), seams=seams)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- the `system` marker --------------------------------------------------------------------------------------
# System tests cross real sockets or processes: a uvicorn server, the fake upstream, the console script, the
# linters. `pytest -m "not system"` runs the rest (logic, in-process) in seconds.
SERVER_FIXTURES = frozenset({"proxy", "start_proxy", "client", "http", "fake", "upstream"})
SYSTEM_MODULES = frozenset(
    {
        "test_console",
        "test_shutdown",
        "test_fuzz",
        "test_quality",
        "test_readme_examples",
        "test_hostile_clients",
        "test_hostile_input",
        "test_hostile_upstream",
        "test_ssrf",
        "test_check",
        "test_structured_vision",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if isinstance(item, pytest.Function) else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in SYSTEM_MODULES or fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.system)
