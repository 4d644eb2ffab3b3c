"""What one client connection may hold, and for how long, before the proxy knows who is asking."""

from __future__ import annotations

import contextlib
import resource
from dataclasses import dataclass

from app.settings import Settings

RESERVED_FILES = 128  # listening sockets, the event loop, logs, the emulator, the image fetcher's pool
MAX_RAISED_FILES = 1 << 20


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_head_bytes: int  # request line and headers together; more is a 431
    max_header_bytes: int  # one header line; more is a 431
    header_timeout: float  # seconds to send a whole request head; then a 408 (or a silent close)
    body_timeout: float  # seconds from the end of the head to the end of the body; then a 408
    max_connections: int  # client connections at once; past this the least useful one makes room

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_head_bytes=settings.proxy_max_head_bytes,
            max_header_bytes=settings.proxy_max_header_bytes,
            header_timeout=settings.proxy_header_timeout,
            body_timeout=settings.proxy_body_timeout,
            max_connections=settings.proxy_max_connections or default_max_connections(),
        )


def default_max_connections() -> int:
    """Half of the descriptors left after a reserve: each client connection may need an upstream one."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(32, (soft - RESERVED_FILES) // 2)


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files to the hard limit, as servers do (1,024 is a common default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_RAISED_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_RAISED_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(OSError, ValueError):  # not allowed: the limit stays, max_connections follows it
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
