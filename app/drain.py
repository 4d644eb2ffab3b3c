"""Graceful shutdown: on SIGTERM, report not-ready, let streams in flight finish up to a deadline, then end
each remaining one with an error frame. Nothing is cut silently.

uvicorn already stops accepting connections and waits for in-flight requests on SIGTERM; this adds the
deadline for streams and the frame that tells their clients what happened.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("workers_ai_proxy")


class Abortable(Protocol):
    def abort(self) -> None: ...


class Drain:
    def __init__(self, timeout: float, on_abort: Callable[[int], None] | None = None) -> None:
        self.timeout = timeout
        self._on_abort = on_abort  # hears how many streams the deadline cut
        self.draining = False
        self._streams: set[Abortable] = set()
        self._deadline: asyncio.TimerHandle | None = None

    def track(self, stream: Abortable) -> None:
        self._streams.add(stream)

    def untrack(self, stream: Abortable) -> None:
        self._streams.discard(stream)

    def begin(self) -> None:
        if self.draining:
            return
        self.draining = True
        log.warning("shutting down: %d stream(s) in flight get up to %g s to finish", len(self._streams), self.timeout)
        self._deadline = asyncio.get_running_loop().call_later(self.timeout, self.abort_all)

    def abort_all(self) -> None:
        streams = list(self._streams)
        if streams:
            log.warning("shutdown deadline: ending %d stream(s) with an error frame", len(streams))
            if self._on_abort is not None:
                self._on_abort(len(streams))
        for stream in streams:
            stream.abort()

    def install_signal_hook(self) -> Callable[[], None]:
        """Chain onto the server's SIGTERM handler (uvicorn's, which starts its own shutdown). Returns an undo.
        Signals can only be handled in the main thread; elsewhere (tests running the app in a thread) this is
        a no-op."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            loop.call_soon_threadsafe(self.begin)
            if callable(previous):
                previous(signum, frame)

        signal.signal(signal.SIGTERM, on_term)

        def undo() -> None:
            signal.signal(signal.SIGTERM, previous)

        return undo
