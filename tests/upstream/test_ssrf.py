# ruff: noqa: RUF001  # lookalike characters (fullwidth digits, ideographic full stops) are what is tested
"""Image URLs cannot make the proxy reach what it should not, however the URL is spelled, wherever it
redirects, and the answers do not tell what is reachable.

The image server listens on loopback and counts every request: a bypass is a hit. Redirect tests need a
first hop the proxy may reach, so they give the proxy a policy that treats 127.0.0.2 (a loopback alias) as
public and everything else as the real rules say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.upstream.addresses import IPAddress, NotAllowed, check_url, is_public
from tests.conftest import make_settings
from tests.fake_upstream import FakeUpstream, Reply
from tests.image_server import ImageServer
from tests.servers import ProxyServer

SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
MESSAGE = "could not be fetched. Image URLs must be public http(s) URLs"


@pytest.fixture()
def loopback_images() -> Iterator[ImageServer]:
    with ImageServer() as server:
        yield server


def ask(url: str) -> dict[str, Any]:
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": SCOUT, "messages": [{"role": "user", "content": content}]}


def refused(http: httpx.Client, url: str) -> str:
    response = http.post("/v1/chat/completions", json=ask(url))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[1].image_url" and MESSAGE in error["message"]
    return str(error["message"])


# -- spellings of loopback -------------------------------------------------------------------------
LOOPBACK_SPELLINGS = [
    "http://127。0。0。1:{port}/img.png",  # ideographic full stops
    "http://127．0．0．1:{port}/img.png",  # fullwidth full stops
    "http://127｡0｡0｡1:{port}/img.png",  # halfwidth ideographic full stops
    "http://１２７.０.０.１:{port}/img.png",  # fullwidth digits
    "http://①②⑦.0.0.1:{port}/img.png",  # circled digits (UTS 46 maps them to digits)
    "http://0x7f.1:{port}/img.png",
    "http://0x7f000001:{port}/img.png",
    "http://2130706433:{port}/img.png",
    "http://0177.0.0.1:{port}/img.png",
    "http://127.1:{port}/img.png",
    "http://127.0.0.1.:{port}/img.png",
    "http://LOCALHOST:{port}/img.png",
    "http://[::ffff:127.0.0.1]:{port}/img.png",
    "http://[::ffff:7f00:1]:{port}/img.png",
    "http://user@127.0.0.1:{port}/img.png",
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_loopback_in_any_spelling_is_never_fetched(
    http: httpx.Client, fake: FakeUpstream, loopback_images: ImageServer, spelling: str
) -> None:
    """Regression: `127。0。0。1` and fullwidth digits were judged as names, then normalized by the HTTP
    client into an IP literal that skipped the checking resolver, and fetched from loopback."""
    refused(http, spelling.format(port=loopback_images.port))
    assert loopback_images.hits == [] and fake.requests == []


@pytest.mark.parametrize(
    "url",
    ["http://[", "http://[::1", "http://a b/", "http://%zz/", "http://example.com:99999/", "http://1.2.3.4.5/"],
)
def test_malformed_image_urls_are_400s(http: httpx.Client, fake: FakeUpstream, url: str) -> None:
    """Regression: `http://[` was a 500 with a traceback."""
    refused(http, url)
    assert fake.requests == []


def test_every_refusal_reads_the_same(
    http: httpx.Client, fake: FakeUpstream, loopback_images: ImageServer, start_proxy: Any
) -> None:
    """Private address, closed port, name that does not resolve, redirect loop: one message."""
    messages = {
        refused(http, f"http://127.0.0.1:{loopback_images.port}/img.png"),
        refused(http, "http://10.0.0.1:9/img.png"),
        refused(http, "http://169.254.169.254/latest/meta-data/"),
        refused(http, "http://no-such-host.invalid/img.png"),
        refused(http, "http://[fd00::1]/img.png"),
    }
    assert len(messages) == 1


# -- redirects -------------------------------------------------------------------------------------
def _public_alias(address: IPAddress) -> bool:
    """127.0.0.2 counts as public; every other address is judged by the real rules."""
    return address == ipaddress.ip_address("127.0.0.2") or is_public(address)


@pytest.fixture()
def policy_proxy(fake: FakeUpstream) -> Iterator[httpx.Client]:
    server = ProxyServer(create_app(make_settings(fake), image_policy=_public_alias)).start()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        yield client
    server.stop()


def test_a_public_image_is_fetched_and_a_redirect_to_loopback_is_not(
    policy_proxy: httpx.Client, fake: FakeUpstream, loopback_images: ImageServer
) -> None:
    fake.script(Reply(json={"result": {"response": "A picture."}, "success": True}))
    with ImageServer("127.0.0.2") as public:
        ok = policy_proxy.post("/v1/chat/completions", json=ask(f"http://127.0.0.2:{public.port}/img.png"))
        assert ok.status_code == 200 and public.hits == ["/img.png"]
        secret = loopback_images.port
        for target in (
            f"http://127.0.0.1:{secret}/img.png",
            f"http://127。0。0。1:{secret}/img.png",
            f"http://0x7f.1:{secret}/img.png",
        ):
            refused(policy_proxy, f"http://127.0.0.2:{public.port}/to?u={target}")
    assert loopback_images.hits == []
    assert len(fake.requests) == 1


# -- the address rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1:7f00:0:100::",  # local-use NAT64 (/48) of 127.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    ],
)
def test_addresses_that_reach_private_networks_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(NotAllowed):
        check_url(f"http://[{address}]/img.png" if ":" in address else f"http://{address}/img.png", is_public)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_and_their_embeddings_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("0x7f.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0x08080808", "8.8.8.8"),
        ("８.８.８.８", "8.8.8.8"),
        ("8。8。8。8", "8.8.8.8"),
    ],
)
def test_hosts_are_read_as_the_whatwg_url_parser_reads_them(host: str, normalized: str) -> None:
    checked = check_url(f"http://{host}/img.png", lambda address: True)
    assert str(checked.address) == normalized and checked.url.host == normalized


def test_the_last_check_is_on_the_socket_about_to_connect() -> None:
    """Whatever path an address took (an IP literal skips the resolver; DNS may answer twice), the socket
    factory refuses to connect to one the policy does not allow."""
    import socket

    from app.upstream.fetch import _checking_socket_factory

    make = _checking_socket_factory(is_public)
    for sockaddr in (("127.0.0.1", 80), ("169.254.169.254", 80), ("::ffff:10.0.0.1", 80, 0, 0)):
        family = socket.AF_INET6 if ":" in str(sockaddr[0]) else socket.AF_INET
        with pytest.raises(OSError):
            make((family, socket.SOCK_STREAM, 6, "", sockaddr))
    make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80))).close()
