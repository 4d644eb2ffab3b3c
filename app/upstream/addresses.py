"""Which URLs and addresses the image fetcher may reach: the URL as the HTTP client will read it, and public
addresses only.

A check is only as good as its agreement with the client that connects afterwards. So the URL is parsed by
yarl, as aiohttp parses it (IDNA / UTS 46 mapping: `127。0。0。1` and fullwidth digits become `127.0.0.1`),
and a host that ends in a number is read by the WHATWG host parser's IPv4 rules (`0x7f.1`, `2130706433`,
`0177.0.0.1` are all loopback; resolvers accept those spellings too). IPv6 addresses that embed an IPv4
address (mapped, NAT64, 6to4, Teredo, IPv4-compatible, IPv4-translated) are judged by the IPv4 address:
that is where a packet to them ends up.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]  # may a fetch connect to this address?

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, the IPv4 address in the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215; a /48 puts it in bits 48-63 and 72-87
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated `::a.b.c.d`
HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
DIGITS = {10: frozenset("0123456789"), 8: frozenset("01234567"), 16: frozenset("0123456789abcdefABCDEF")}


class NotAllowed(Exception):
    """Why a URL or an address is refused, for the log (clients hear one message for every refusal)."""


@dataclass(frozen=True, slots=True)
class CheckedURL:
    url: yarl.URL  # to be requested as is: normalized, with an IP host spelled canonically
    address: IPAddress | None  # the host, when it is an IP address rather than a name


def check_url(text: str, allowed: AddressPolicy) -> CheckedURL:
    try:
        url = yarl.URL(text)
        host = url.raw_host  # as aiohttp connects: IDNA-encoded, lower case
    except (ValueError, TypeError, UnicodeError) as exc:
        raise NotAllowed(f"unparsable URL ({type(exc).__name__})") from None
    if url.scheme not in ("http", "https") or not host:
        raise NotAllowed("not an http(s) URL with a host")
    if url.user is not None or url.password is not None:
        raise NotAllowed("credentials in the URL")
    address = _address_of(host)
    if address is None:
        if not HOST_NAME.fullmatch(host):
            raise NotAllowed(f"host {host!r} is neither a DNS name nor an IP address")
        return CheckedURL(url, None)
    if not allowed(address):
        raise NotAllowed(f"non-public address {address}")
    return CheckedURL(url.with_host(str(address)), address)


def parse_address(text: str) -> IPAddress | None:
    """An address as a socket reports it (an IPv6 scope id dropped), or None."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """The default policy: globally routable unicast addresses only."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return address.is_global and not address.is_multicast


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    value = int(address)
    if address in NAT64 or address in IPV4_TRANSLATED:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in NAT64_LOCAL:
        return ipaddress.IPv4Address(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF)
    if address in IPV4_COMPATIBLE and value > 1:  # not :: or ::1
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def _address_of(host: str) -> IPAddress | None:
    """The IP address a host names, or None for a DNS name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise NotAllowed(f"invalid IPv6 host {host!r}") from None
    return whatwg_ipv4(host)


def whatwg_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG URL standard's IPv4 parser: None if the host does not end in a number (a name), the
    address if it parses, NotAllowed if it ends in a number and is no valid address."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts[-1] or not ((parts[-1].isascii() and parts[-1].isdigit()) or _ipv4_number(parts[-1]) is not None):
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise NotAllowed(f"host {host!r} ends in a number but is no IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise NotAllowed(f"host {host!r} is an out-of-range IPv4 address")
    address = values[-1]
    for index, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - index)
    return ipaddress.IPv4Address(address)


def _ipv4_number(text: str) -> int | None:
    if not text:
        return None
    radix = 10
    if text[:2] in ("0x", "0X"):
        text, radix = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        text, radix = text[1:], 8
    if not text:
        return 0
    if not set(text) <= DIGITS[radix]:
        return None
    return int(text, radix)
