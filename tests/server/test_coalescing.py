"""What is written during one turn of the event loop leaves in one write at its end; later writes are not held."""

from __future__ import annotations

import asyncio
from typing import Any

from app.server.coalescing import CoalescingTransport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_one_write_per_turn() -> None:
    async def run() -> Recorder:
        real = Recorder()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert real.writes == []  # not before the turn ends
        await asyncio.sleep(0)
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        transport.write(b"data: 1\n\n")  # a stream's next frame, in a later turn: its own write
        await asyncio.sleep(0)
        transport.write(b"last")
        transport.close()  # what is pending goes first
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        return real

    real = asyncio.run(run())
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"data: 1\n\n", b"last"] and real.closed


def test_abort_drops_what_is_pending_and_eof_flushes() -> None:
    async def run() -> tuple[Recorder, Recorder]:
        loop = asyncio.get_running_loop()
        dropped, ended = Recorder(), Recorder()
        first = CoalescingTransport(dropped, loop)  # type: ignore[arg-type]
        first.write(b"never")
        first.abort()
        second = CoalescingTransport(ended, loop)  # type: ignore[arg-type]
        second.write(b"refused")
        second.write_eof()
        await asyncio.sleep(0)
        return dropped, ended

    dropped, ended = asyncio.run(run())
    assert dropped.writes == [] and dropped.aborted
    assert ended.writes == [b"refused"] and ended.eof
