"""An upstream that writes raw bytes: replies no well-behaved HTTP server library would send (control
characters in headers, a status line that is not HTTP). Served from a thread, one connection at a time."""

from __future__ import annotations

import socket
import threading

CATALOGUE_REFUSED = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
)


class RawUpstream:
    def __init__(self, *replies: bytes) -> None:
        self.replies = list(replies)  # one per request, in order; the last one repeats
        self.requests: list[bytes] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._thread = threading.Thread(target=self._serve, name="raw-upstream", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/client/v4"

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            with conn:
                head = _read_head(conn)
                if b"/ai/models/search" in head.split(b"\r\n", 1)[0]:
                    conn.sendall(CATALOGUE_REFUSED)  # the proxy's catalogue read at start-up
                    continue
                self.requests.append(head)
                reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
                conn.sendall(reply)


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head
