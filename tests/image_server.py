"""A small web server for the image-fetching tests, on a loopback address, that records every request.

`routes` maps a path to (status, headers, body); `/to?u=<url>` redirects to <url>; anything else is a 404.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class ImageServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        outer = self
        self.hits: list[str] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/img.png": (200, {"Content-Type": "image/png"}, PNG)
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                if self.path.startswith("/to?u="):
                    status, headers, body = 302, {"Location": self.path[len("/to?u=") :]}, b""
                else:
                    status, headers, body = outer.routes.get(self.path, (404, {}, b"missing"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
