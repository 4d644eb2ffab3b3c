"""uvicorn's access log, with query strings kept to their parameter names.

A client may put a credential in the URL (`?api_key=...`, `?token=...`); the proxy's endpoints take nothing
from the query string, so no value in it is worth logging, and none is.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote

REDACTED = "[redacted]"


class RedactQueryValues(logging.Filter):
    """For the `uvicorn.access` logger, whose records carry (client, method, path?query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def redact_query(path: str) -> str:
    path, _, query = path.partition("?")
    names = [quote(name, safe="") for name, _ in parse_qsl(query, keep_blank_values=True)]
    if not names:
        return f"{path}?{REDACTED}" if query else path
    return path + "?" + "&".join(f"{name}={REDACTED}" for name in names)
