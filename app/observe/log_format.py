"""How log records leave the process. PROXY_LOG_FORMAT=json: every record as one JSON object per line (time,
level, logger, message, and the access log's fields), for log shippers; the default, `text`, is uvicorn's
readable format. Access lines are written in batches."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return json_line(record.created, record.levelname, record.name, record.getMessage(), fields, exception)


def json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    fields: dict[str, Any] | None = None,
    exception: str | None = None,
) -> str:
    entry: dict[str, Any] = {
        "time": dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": level.lower(),
        "logger": logger,
        "message": message,
    }
    if isinstance(fields, dict):
        entry.update(fields)
    if exception is not None:
        entry["exception"] = exception
    return orjson.dumps(entry, default=str).decode()


TEXT_PREFIX = "INFO:     "  # what the access handler's text format puts before an access line


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]  # a TextIO stream
    """The access log's handler: lines gathered and written every `interval` seconds (or once `limit` characters
    wait), one write instead of one per request, which was half of the access log's cost. A daemon thread
    flushes, so a quiet proxy's last lines still appear; `flush` (called by logging.shutdown at exit) writes
    everything pending."""

    def __init__(self, stream: Any = None, interval: float = 0.25, limit: int = 64 * 1024) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._size = 0
        self._limit = limit
        self._interval = interval
        threading.Thread(target=self._flush_every_interval, name="access-log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        self._size += len(line)
        if self._size >= self._limit:
            self._write_pending()

    def write_line(self, line: str) -> None:
        """A line already formatted (the access log's fast path: no LogRecord, same output)."""
        with self.lock or contextlib.nullcontext():
            self._pending.append(line + self.terminator)
            self._size += len(line) + 1
            if self._size >= self._limit:
                self._write_pending()

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._write_pending()
            super().flush()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        text, self._pending, self._size = "".join(self._pending), [], 0
        try:
            self.stream.write(text)
        except Exception:  # a closed stream at exit: nothing to do about it
            return

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(self._interval)
            if self._pending:
                self.flush()
